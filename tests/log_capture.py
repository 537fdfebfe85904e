"""Capture the log lines a test causes, rendered by the project's own formatter
(shared.ops.logs.formatter, what settings.LOGGING's handler uses), as text and parsed."""

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from shared.ops.logs import formatter


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
