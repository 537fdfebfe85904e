"""How a delivery is signed, and how a receiver checks it (docs/webhooks.md).

The signed bytes are `<timestamp>.<body>`: the timestamp header (Unix seconds) and the exact
body bytes, so a receiver can refuse stale replays as well as altered bodies. The signature
header is `<algorithm>=<lowercase hex>`, e.g. `hmac-sha256=5f2c…`.

`sm2-sm3` signs with the library's SM2 key (the one that signs its access-log checkpoints;
`X-Elicense-Key-Id` names it, GET /api/v1/webhooks/signing-key/ publishes it). So that a
webhook signature can never pass for a checkpoint's, the SM2 signature covers
`elicense-webhook-v1\n<timestamp>.<body>` (DER, hex in the header; default SM2 user ID).
"""

import hmac as std_hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac

from shared.crypto.suites import PrivateKey, get_suite, public_key_from_pem

HEADER_EVENT_ID = "X-Elicense-Event-Id"
HEADER_TIMESTAMP = "X-Elicense-Timestamp"
HEADER_SIGNATURE = "X-Elicense-Signature"
HEADER_KEY_ID = "X-Elicense-Key-Id"
SM2 = "sm2-sm3"
SM2_CONTEXT = b"elicense-webhook-v1\n"

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


def sign_sm2(*, key: PrivateKey, timestamp: str, body: bytes) -> str:
    """The signature header's value for an `sm2-sm3` subscription."""
    signature = get_suite("gm").sign(key, SM2_CONTEXT + signed_bytes(timestamp, body))
    return f"{SM2}={signature.hex()}"


def verify_sm2(*, public_key_pem: str, timestamp: str, body: bytes, header: str) -> bool:
    """Whether `header` is the library's SM2 signature of `body` at `timestamp`."""
    algorithm, _, value = header.partition("=")
    if algorithm != SM2:
        return False
    try:
        signature = bytes.fromhex(value)
    except ValueError:
        return False
    public_key = public_key_from_pem(public_key_pem.encode())
    return get_suite("gm").verify(
        public_key, signature, SM2_CONTEXT + signed_bytes(timestamp, body)
    )
