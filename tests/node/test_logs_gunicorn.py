"""gunicorn's own lines (start, workers, shutdown) and Django's request lines come out of a real
gunicorn as JSON lines of one shape: gunicorn.conf.py at the repository root hands gunicorn's
loggers to the project's formatter (shared.conf.logs.gunicorn_logging_config)."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
FIRST = ["timestamp", "level", "logger", "event", "request_id", "library"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_gunicorn_and_django_write_the_same_json_lines(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "TEST_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="municipal_node.settings",
        DJANGO_ENV="local",
        NODE_CODE="410300",
        VAR_DIR=str(tmp_path),
        LOG_FORMAT="json",
        LOG_LEVEL="INFO",
        PYTHONPATH=str(ROOT),
    )
    output = tmp_path / "web.log"
    with open(output, "wb") as out:
        web = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "municipal_node.wsgi:application",
             "--bind", f"127.0.0.1:{port}", "--workers", "1", "--no-control-socket"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            deadline, answer = time.monotonic() + 60, None
            while answer is None and time.monotonic() < deadline:
                try:
                    answer = requests.get(
                        f"http://127.0.0.1:{port}/healthz",
                        headers={"X-Request-ID": "probe-410300-1"},
                        # the worker's first request imports the URLconf and the apps it names:
                        # in CI, beside two busy suites, that took more than 5 s; a retry after a
                        # read timeout would log a second request, so wait for this one
                        timeout=(5, 90),
                    )
                except requests.ConnectionError:
                    time.sleep(0.2)
            assert answer is not None and answer.status_code == 200, output.read_text()
        finally:
            web.terminate()
            web.wait(timeout=30)
    raw = output.read_text().splitlines()
    lines = [json.loads(line) for line in raw]  # every line is JSON: nothing in gunicorn's format
    assert all(list(line)[:6] == FIRST for line in lines), raw
    assert {line["library"] for line in lines} <= {"410300", None}
    started = [line["event"] for line in lines if line["logger"] == "gunicorn.error"]
    assert any(event.startswith("Listening at: ") for event in started), raw
    assert any(event.startswith("Booting worker") for event in started), raw
    [request] = [line for line in lines if line["event"] == "http.request"]
    assert (request["request_id"], request["path"], request["status"]) == (
        "probe-410300-1",
        "/healthz",
        200,
    )
    assert request["library"] == "410300"
