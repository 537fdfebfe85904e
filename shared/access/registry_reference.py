"""A small reference registry service speaking the protocol `HttpRegistry` expects.

For tests and local integration: real HTTP on 127.0.0.1, in a thread. It is not the
population or legal-entity registry; it answers from the entries it was given.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import cast

ROUTES = {"population": "111", "legal-entities": "001"}


class ReferenceRegistry:
    def __init__(self, entries: dict[tuple[str, str], str] | None = None) -> None:
        self.entries: dict[tuple[str, str], str] = dict(entries or {})
        self.requests: list[str] = []
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                registry.requests.append(self.path)
                parts = [urllib.parse.unquote(p) for p in self.path.strip("/").split("/")]
                code_type = ROUTES.get(parts[0]) if len(parts) == 2 else None
                name = registry.entries.get((code_type or "", parts[-1]))
                status, body = (200, {"name": name}) if name is not None else (404, {})
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

    @property
    def url(self) -> str:
        host, port = cast("tuple[str, int]", self.server.server_address[:2])  # an AF_INET server
        return f"http://{host}:{port}"

    def __enter__(self) -> ReferenceRegistry:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
