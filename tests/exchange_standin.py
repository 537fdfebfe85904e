"""A stand-in receiving library for in-process tests: a small HTTP server in a thread that
speaks the exchange protocol the way the hub does — it opens each envelope (signature, receiver,
clock), keeps a high-water mark, answers duplicates below it, and answers the status call — so
the real HTTP adapter, with its tokens and TLS arguments, is what the code under test uses.
(The real hub answers the same calls in tests/federation and tests/hub.)"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from django.utils import timezone

from shared.exchange.envelopes import RAW_MEDIA_TYPE, open_envelope, raw_envelope

HUB = "410000"


def envelope_of(request: BaseHTTPRequestHandler) -> dict:
    """The envelope an http.server request carries, in any form: version 3 is the body's
    bytes with the signature in headers, the older forms are JSON."""
    body = request.rfile.read(int(request.headers["Content-Length"]))
    if request.headers.get("Content-Type") == RAW_MEDIA_TYPE:
        return raw_envelope(request.headers.get, body)
    return json.loads(body)


class StandIn:
    def __init__(self, public_key: Any, *, receiver: str = HUB) -> None:
        self.public_key = public_key
        self.receiver = receiver
        self.mark = 0  # the highest sequence number this receiver holds
        self.answer_ids = True  # False: answer as a receiver older than request ids
        self.json_only = False  # True: answer version 3 as a receiver older than it (415)
        self.refused_raw = 0  # version 3 requests answered 415
        self.envelopes: list[dict] = []
        self.status_calls: list[str] = []  # the sender named in each status call
        self.tokens: list[str] = []  # X-Exchange-Token of every call
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def ack(self, data: dict) -> dict:
        opened = open_envelope(
            data,
            resolve_key=lambda s, k: self.public_key,
            receiver=self.receiver,
            now=timezone.now(),
        )
        self.envelopes.append(data)
        fresh = [e for e in opened.events if e["seq"] > self.mark]
        self.mark = max([self.mark, *(e["seq"] for e in fresh)])
        answer = {
            "high_water_mark": self.mark,
            "applied": len(fresh),
            "duplicates": len(opened.events) - len(fresh),
        }
        if self.answer_ids:
            ids = [e["request_id"] for e in fresh if "request_id" in e]
            answer["request_ids"] = list(dict.fromkeys(ids))
        return answer

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, body: dict, status: int = 200) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                standin.tokens.append(self.headers.get("X-Exchange-Token", ""))
                if standin.json_only and self.headers.get("Content-Type") == RAW_MEDIA_TYPE:
                    self.rfile.read(int(self.headers["Content-Length"]))
                    standin.refused_raw += 1
                    message = f'不支持请求中的媒体类型 "{RAW_MEDIA_TYPE}"。'
                    self._answer({"code": "unsupported_media_type", "message": message}, 415)
                    return
                self._answer(standin.ack(envelope_of(self)))

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                standin.tokens.append(self.headers.get("X-Exchange-Token", ""))
                sender = self.path.partition("node=")[2]
                standin.status_calls.append(sender)
                self._answer({"high_water_mark": standin.mark})

            def log_message(self, *args: Any) -> None:  # quiet
                return

        return Handler


def registered_standin(settings: Any, *, code: str = "410000", kid: str = "") -> StandIn:
    """A stand-in receiver registered as the peer `code` over HTTP, holding this library's own
    public key (it verifies what this library signs); stop it when done."""
    from shared.crypto.suites import public_key_from_pem
    from shared.federation.keys import export_public, peer_register

    settings.FEDERATION_ADAPTER = "http"
    me = export_public()
    server = StandIn(public_key_from_pem(me["public_key_pem"].encode()))
    peer_register(
        code=code, kid=kid or me["kid"], public_key_pem=me["public_key_pem"], base_url=server.url
    )
    return server


def standin_fixture(*, kid: str = "") -> Any:
    """A pytest fixture of `registered_standin` as the hub: `receiver = standin_fixture()`."""
    import pytest

    @pytest.fixture
    def fixture(settings: Any) -> Any:
        server = registered_standin(settings, kid=kid)
        yield server
        server.stop()

    return fixture
