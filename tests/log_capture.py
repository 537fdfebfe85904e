"""Capture the log lines a test causes, rendered by the project's own formatter
(shared.ops.logs.formatter, what settings.LOGGING's handler uses), as text and parsed."""

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shared.ops.logs import formatter

ROOT = Path(__file__).resolve().parents[1]


class Lines:
    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def parsed(self) -> list[dict]:
        """Every line as JSON (the capture must be in the json format)."""
        return [json.loads(line) for line in self.text.splitlines() if line.strip()]

    def events(self, event: str) -> list[dict]:
        return [line for line in self.parsed() if line["event"] == event]


@contextmanager
def captured(fmt: str = "json", level: int = logging.INFO) -> Iterator[Lines]:
    """A handler on the root logger, as settings.LOGGING puts one there: every thread's lines
    (an in-process Celery worker's too) reach it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter(fmt))
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(level)
    try:
        yield Lines(stream)
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


def fresh_process_lines(script: str, **env: str) -> tuple[str, list[dict]]:
    """Run `script` in a new Python process with the project's settings read from `env` only
    (none of this test run's DJANGO_*/TEST_* variables), JSON logs at INFO; returns its stdout
    and its stderr as parsed lines (every line must be JSON)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "TEST_"))}
    clean |= {"DJANGO_ENV": "local", "LOG_FORMAT": "json", "LOG_LEVEL": "INFO"}
    clean |= {"PYTHONPATH": str(ROOT), "PYTHONWARNINGS": ""} | env
    done = subprocess.run(  # noqa: S603 - this interpreter, the test's own script
        [sys.executable, "-c", script],
        env=clean,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout, [json.loads(line) for line in done.stderr.splitlines()]
