"""Fixtures for the webhook tests: a consumer that has lawfully used a licence, a real
loopback receiver (http.server in a thread) that can be down or up, a clean access log."""

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from shared.access import ratelimit
from shared.access.models import Grant
from tests.shared.access.conftest import MATTER, issue, wipe_log

__all__ = ["MATTER"]


@pytest.fixture(autouse=True)
def clean_access_log(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        wipe_log()
    ratelimit.rate_reset()
    yield
    ratelimit.rate_reset()


@pytest.fixture
def licence(issuer_user, license_type):
    return issue(issuer_user, license_type)


@pytest.fixture
def granted(consumer_agency, license_type):
    return Grant.objects.create(
        agency=consumer_agency,
        license_type=license_type,
        matter_code=MATTER,
        tier=Grant.Tier.CITY,
        valid_from=timezone.localdate(),
    )


@pytest.fixture
def used(consumer, granted, licence):
    """The consumer's agency queried the licence under MATTER (an allowed use in the log)."""
    response = consumer.post(
        "/api/v1/share/query/",
        {
            "holder": {"code": licence.holder_code, "code_type": licence.holder_code_type},
            "matter_code": MATTER,
            "use_cause": "办理食品经营许可变更，核验原证",
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["count"] == 1
    return licence


class Receiver:
    """A consumer system's endpoint on loopback: down until `start()`, then answers 200 and
    keeps every request (headers and the exact body bytes)."""

    def __init__(self) -> None:
        with socket.socket() as probe:  # a free port, closed again: connecting is refused
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks/licences"
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.status = 200
        self.delay = 0.0  # seconds before answering (a slow consumer system)
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.received.append((dict(self.headers.items()), body))
                time.sleep(receiver.delay)
                self.send_response(receiver.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def bodies(self) -> list[dict]:
        return [json.loads(body) for _, body in self.received]


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()
