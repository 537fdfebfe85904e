"""How a delivery is signed, and how a receiver checks it (docs/webhooks.md).

The signed bytes are `<timestamp>.<body>`: the timestamp header (Unix seconds) and the exact
body bytes, so a receiver can refuse stale replays as well as altered bodies. The signature
header is `<algorithm>=<lowercase hex>`, e.g. `hmac-sha256=5f2c…`.
"""

import hmac as std_hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac

HEADER_EVENT_ID = "X-Elicense-Event-Id"
HEADER_TIMESTAMP = "X-Elicense-Timestamp"
HEADER_SIGNATURE = "X-Elicense-Signature"

_HASHES = {"hmac-sha256": hashes.SHA256, "hmac-sm3": hashes.SM3}


def signed_bytes(timestamp: str, body: bytes) -> bytes:
    return timestamp.encode("ascii") + b"." + body


def sign(*, algorithm: str, secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value for `body` sent at `timestamp`."""
    mac = crypto_hmac.HMAC(secret.encode(), _HASHES[algorithm]())
    mac.update(signed_bytes(timestamp, body))
    return f"{algorithm}={mac.finalize().hex()}"


def verify(*, secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """Whether `header` is a valid signature of `body` at `timestamp` (receiver side)."""
    algorithm, _, _ = header.partition("=")
    if algorithm not in _HASHES:
        return False
    expected = sign(algorithm=algorithm, secret=secret, timestamp=timestamp, body=body)
    return std_hmac.compare_digest(expected, header)
