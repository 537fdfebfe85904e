"""A small reference SMS gateway speaking the protocol `SmsChannel` expects.

For tests and the demo: real HTTP on 127.0.0.1, in a thread. POST / with JSON
{"id", "phone", "text"} → 202; a repeated id is accepted again but kept once (as a real
gateway deduplicates by the client's message id); `fail_next` answers 503 that many times.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast


class ReferenceSmsGateway:
    def __init__(self, *, token: str = "") -> None:
        self.token = token
        self.messages: list[dict[str, Any]] = []
        self.requests = 0
        self.fail_next = 0
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                gateway.requests += 1
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                status, body = gateway.answer(self.headers.get("Authorization", ""), raw)
                payload = json.dumps(body, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, authorization: str, raw: bytes) -> tuple[int, dict[str, Any]]:
        if self.token and authorization != f"Bearer {self.token}":
            return 401, {"error": "unauthorised"}
        if self.fail_next > 0:
            self.fail_next -= 1
            return 503, {"error": "busy"}
        try:
            data = json.loads(raw)
            message = {
                "id": str(data["id"]),
                "phone": str(data["phone"]),
                "text": str(data["text"]),
            }
        except (ValueError, KeyError, TypeError):
            return 400, {"error": "bad request"}
        if not message["phone"].isdigit():
            return 422, {"error": "bad phone"}
        if all(m["id"] != message["id"] for m in self.messages):
            self.messages.append(message)
        return 202, {"id": message["id"]}

    @property
    def url(self) -> str:
        host, port = cast("tuple[str, int]", self.server.server_address[:2])
        return f"http://{host}:{port}/"

    def __enter__(self) -> ReferenceSmsGateway:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
