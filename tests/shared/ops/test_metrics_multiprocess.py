"""/metrics under a real gunicorn with two workers that are replaced every few requests, as
deploy/systemd runs it (PROMETHEUS_MULTIPROC_DIR): every scrape, whichever worker answers,
shows the requests of all workers, those already gone included, exactly."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[3]
GUNICORN = Path(sys.executable).parent / "gunicorn"
HEALTHZ = {"status": "200", "view": "healthz", "method": "GET"}
RESPONSES = "django_http_responses_total_by_status_view_method_total"
# A request can wait while gunicorn replaces a worker (a new one loads Django: over 10 s in a
# full CI run on two busy cores); one given up on would still be served and counted.
REPLACED_WORKER_SECONDS = 90


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def healthz_responses(base: str) -> float:
    text = requests.get(f"{base}/metrics", timeout=REPLACED_WORKER_SECONDS).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == RESPONSES and sample.labels == HEALTHZ:
                return sample.value
    return 0.0


@pytest.fixture
def web(tmp_path):
    """gunicorn on the test database, its metrics in tmp_path/metrics (empty, as systemd's
    RuntimeDirectory is at each start)."""
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DJANGO_ENV": "test",
        "DJANGO_SETTINGS_MODULE": "municipal_node.settings",
        "TEST_DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    port = free_port()
    log = (tmp_path / "gunicorn.log").open("wb")
    proc = subprocess.Popen(  # noqa: S603 - our own gunicorn, fixed arguments
        [
            str(GUNICORN),
            "municipal_node.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            # each worker is replaced after 8 requests: its counters must outlive it
            "--max-requests",
            "8",
            "--no-control-socket",
        ],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        yield base, metrics_dir, proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()


def test_every_scrape_adds_up_all_workers_past_and_present(web):
    base, metrics_dir, proc = web
    # given: the server up (the probes are requests too: counted)
    served = 0
    deadline = time.monotonic() + 90
    while served == 0:
        assert proc.poll() is None, "gunicorn exited"
        assert time.monotonic() < deadline, "gunicorn did not start"
        try:
            # a long read timeout: the request waits in the listen queue while the workers
            # load Django, and one given up on would still be served (and counted)
            served += requests.get(f"{base}/healthz", timeout=90).status_code == 200
        except requests.ConnectionError:
            time.sleep(0.3)

    # when: 16 more, each on a new connection
    for _ in range(16):
        response = requests.get(
            f"{base}/healthz", timeout=REPLACED_WORKER_SECONDS, headers={"Connection": "close"}
        )
        assert response.status_code == 200
        served += 1

    # then: six scrapes (answered by whichever worker, some by ones started since) agree
    seen = [healthz_responses(base) for _ in range(6)]
    assert seen == [served] * 6
    # 23 requests went through at least three worker processes (8 requests each at most)
    pids = {path.stem.rsplit("_", 1)[-1] for path in metrics_dir.glob("counter_*.db")}
    assert len(pids) >= 3, pids


@pytest.mark.parametrize("value", ["", "missing"])
def test_a_multiprocess_dir_empty_or_missing_stops_the_process(tmp_path, value):
    # prometheus_client takes an empty value as set and writes into the working directory
    env = {
        **os.environ,
        "DJANGO_ENV": "test",
        "PROMETHEUS_MULTIPROC_DIR": value and str(tmp_path / value),
    }
    result = subprocess.run(  # noqa: S603 - our own manage.py, fixed arguments
        [sys.executable, str(ROOT / "manage.py"), "node", "check"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "PROMETHEUS_MULTIPROC_DIR" in result.stderr
    assert "不是已存在的目录" in result.stderr
    assert list(tmp_path.iterdir()) == []
