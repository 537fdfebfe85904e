"""RFC 3161 time stamps: a client over the standard library, and a tiny local TSA (pure).

With a timestamp authority configured (`FILES_TSA_URL`), seals are PAdES B-T. The client uses
`urllib` with an explicit timeout (no extra HTTP dependency). `LocalTsa` is an RFC 3161 service
on 127.0.0.1 for tests and development, backed by pyHanko's `DummyTimeStamper` logic and a TSA
certificate issued by the library's CA; it is not a production TSA (no audit, no HSM).
"""

from __future__ import annotations

import asyncio
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import cast

from asn1crypto import keys as asn1_keys
from asn1crypto import tsp
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore

from shared.crypto.pdfsign import asn1_certificate

__all__ = ["LocalTsa", "UrllibTimeStamper", "timestamper_for"]

TSA_TIMEOUT_SECONDS = 10


class UrllibTimeStamper(TimeStamper):
    """RFC 3161 over HTTP POST (`application/timestamp-query`)."""

    def __init__(self, url: str, timeout: float = TSA_TIMEOUT_SECONDS) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # pyHanko's TimeStamper.__init__ is untyped
        self.url = url
        self.timeout = timeout

    def _post(self, body: bytes) -> bytes:
        request = urllib.request.Request(  # noqa: S310 - the operator configures this URL
            self.url,
            data=body,
            headers={"Content-Type": "application/timestamp-query"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
            answer: bytes = response.read()
            return answer

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        try:
            raw = await asyncio.to_thread(self._post, req.dump())
        except OSError as exc:
            raise TimestampRequestError(f"TSA unreachable: {exc}") from exc
        return tsp.TimeStampResp.load(raw)


def timestamper_for(url: str) -> TimeStamper | None:
    return UrllibTimeStamper(url) if url else None


class LocalTsa:
    """An RFC 3161 service on 127.0.0.1 (a thread), answering with `DummyTimeStamper`."""

    def __init__(
        self,
        *,
        key: rsa.RSAPrivateKey,
        cert: x509.Certificate,
        chain: list[x509.Certificate],
        port: int = 0,
    ) -> None:
        der = key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        stamper = DummyTimeStamper(
            tsa_cert=asn1_certificate(cert),
            tsa_key=asn1_keys.PrivateKeyInfo.load(der),
            certs_to_embed=SimpleCertificateStore.from_certs([asn1_certificate(c) for c in chain]),
        )
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    request = tsp.TimeStampReq.load(self.rfile.read(length))
                    with lock:
                        answer = stamper.request_tsa_response(request).dump()
                except Exception:  # noqa: BLE001 - a bad request must not kill the server
                    self.send_response(400)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = cast("tuple[str, int]", self._server.server_address[:2])  # an AF_INET server
        return f"http://{host}:{port}/tsa"

    def __enter__(self) -> LocalTsa:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
