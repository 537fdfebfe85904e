"""The simulated cities' receiving end: the hub's downward streams (records of use of a city's
licences at the hub, art. 15 pushes) arrive here as they would at a node's
`/api/v1/federation/envelopes/`. Each envelope is opened with `shared.exchange.envelopes.
open_envelope` against the hub's registered key and acknowledged with a per-city high-water
mark, gaps refused as a node refuses them (`exchange.gap` with the sequence expected), so the
hub's relays run against these cities as against real ones. The events are counted, not kept.
"""

import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bench.province.city import HUB


class Inbound:
    def __init__(self, cities: list[str], hub_key_pem: str) -> None:
        from shared.crypto.suites import public_key_from_pem

        self.cities = set(cities)
        self.hub_key = public_key_from_pem(hub_key_pem.encode())
        self.marks = {c: 0 for c in cities}
        self.kinds: dict[str, int] = {}
        self.errors: list[str] = []
        self.lock = threading.Lock()

    def receive(self, raw: bytes) -> tuple[int, dict[str, Any]]:
        from shared.exchange.envelopes import EnvelopeError, envelope_body, open_envelope

        try:
            envelope = json.loads(raw)
            receiver = str(envelope_body(envelope).get("receiver", ""))
            if receiver not in self.cities:
                raise EnvelopeError("exchange.wrong_receiver", "交换信封的接收方不是本库")
            opened = open_envelope(
                envelope,
                resolve_key=lambda sender, kid: self.hub_key if sender == HUB else None,
                receiver=receiver,
                now=datetime.now(UTC),
            )
        except (ValueError, AttributeError, EnvelopeError) as exc:
            code = getattr(exc, "code", "exchange.malformed")
            self.errors.append(f"downward envelope refused: {code}")
            return 400, {"code": code, "message": str(exc), "detail": {}}
        with self.lock:
            mark = self.marks[receiver]
            events = [e for e in opened.events if e["seq"] > mark]
            if events and events[0]["seq"] != mark + 1:
                return 409, {
                    "code": "exchange.gap",
                    "message": "交换事件序号不连续",
                    "detail": {"expected": mark + 1},
                }
            for event in events:
                self.kinds[str(event.get("kind"))] = self.kinds.get(str(event.get("kind")), 0) + 1
            if events:
                self.marks[receiver] = events[-1]["seq"]
            return 200, {
                "high_water_mark": self.marks[receiver],
                "applied": len(events),
                "duplicates": len(opened.events) - len(events),
                "rejected": [],
            }

    def serve(self, port: int) -> ThreadingHTTPServer:
        inbound = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server interface
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, body = inbound.receive(raw)
                data = json.dumps(body, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                """Silent: thousands of envelopes a minute would drown the report."""

        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server
