"""A reference receiver for consumer systems: what docs/webhooks.md asks of one, runnable.

It checks the signature (HMAC with the subscription's secret, or SM2 with the library's
published key), refuses a timestamp more than `tolerance` seconds off (401), deduplicates by
event id (a repeated delivery is answered 200 and not processed again) and appends each new
event to a JSON-lines file. Real HTTP on 127.0.0.1; no Django (it imports only the signing
helpers). For the demo and for integrators:

    python -m shared.webhooks.receiver_reference --port 8009 --secret <secret> \\
        --out var/demo/webhooks.jsonl
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

from shared.webhooks import signing


class ReferenceReceiver:
    def __init__(
        self,
        *,
        secret: str = "",
        public_key_pem: str = "",
        out: Path | None = None,
        port: int = 0,
        tolerance: int = 300,
    ) -> None:
        self.secret, self.public_key_pem, self.out = secret, public_key_pem, out
        self.tolerance = tolerance
        self.events: dict[str, dict[str, Any]] = {}  # event id → body, in arrival order
        self.refused = 0
        self.repeats = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = receiver.receive(dict(self.headers.items()), body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def verified(self, headers: dict[str, str], body: bytes) -> bool:
        stamp = headers.get(signing.HEADER_TIMESTAMP, "")
        header = headers.get(signing.HEADER_SIGNATURE, "")
        if not stamp.isdigit() or abs(time.time() - int(stamp)) > self.tolerance:
            return False
        if header.startswith(signing.SM2 + "=") and self.public_key_pem:
            return signing.verify_sm2(
                public_key_pem=self.public_key_pem, timestamp=stamp, body=body, header=header
            )
        return bool(self.secret) and signing.verify(
            secret=self.secret, timestamp=stamp, body=body, header=header
        )

    def receive(self, headers: dict[str, str], body: bytes) -> int:
        """The status to answer: 401 unsigned or stale, 400 not our JSON, 200 otherwise."""
        if not self.verified(headers, body):
            self.refused += 1
            return 401
        try:
            event = json.loads(body)
            event_id = str(event["event_id"])
        except (ValueError, KeyError, TypeError):
            return 400
        if event_id != headers.get(signing.HEADER_EVENT_ID):
            return 400
        with self._lock:
            if event_id in self.events:  # delivered before: acknowledge, do nothing
                self.repeats += 1
                return 200
            self.events[event_id] = event
            if self.out is not None:
                with self.out.open("a", encoding="utf-8") as file:
                    file.write(json.dumps(event, ensure_ascii=False, sort_keys=True) + "\n")
        return 200

    @property
    def url(self) -> str:
        host, port = cast("tuple[str, int]", self.server.server_address[:2])
        return f"http://{host}:{port}/hooks/licences"

    def __enter__(self) -> ReferenceReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description="参考 Webhook 接收端：验签、按事件 ID 去重")
    parser.add_argument("--port", type=int, default=8009)
    parser.add_argument("--secret", default="", help="订阅时返回的共享密钥（HMAC）")
    parser.add_argument("--public-key", default="", help="本库 SM2 公钥 PEM 文件（sm2-sm3）")
    parser.add_argument("--out", default="webhooks.jsonl", help="收到的事件追加写入此文件")
    args = parser.parse_args()
    pem = Path(args.public_key).read_text() if args.public_key else ""
    with ReferenceReceiver(
        secret=args.secret, public_key_pem=pem, out=Path(args.out), port=args.port
    ) as receiver:
        print(f"listening on {receiver.url}, writing {args.out}", flush=True)
        try:
            receiver.thread.join()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
