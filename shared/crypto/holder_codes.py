"""Holder codes at rest: SM4-GCM ciphertext plus a keyed HMAC-SM3 digest for lookup (DESIGN §5).

Pure: the master secret is passed in (`shared.core.holder_codes` reads it from the settings).
Two keys are derived from it: an SM4 key for the ciphertext and an HMAC key for the digest, so
equal codes give equal digests (lookup works) while the digest reveals nothing without the key.
The formats are what the databases already hold: changing a byte here needs a data migration.
"""

from __future__ import annotations

import functools

from shared.crypto.suites import get_suite

_AAD = b"elicense:holder_code"


@functools.cache
def _keys(master: str) -> tuple[bytes, bytes]:
    suite = get_suite("gm")
    secret = master.encode()
    return suite.digest(b"enc\x00" + secret)[:16], suite.digest(b"mac\x00" + secret)


def holder_code_digest(master: str, code: str) -> str:
    """The lookup digest of a (normalised) holder code: HMAC-SM3, 64 hex characters."""
    if not code:
        return ""
    return get_suite("gm").mac(_keys(master)[1], code.encode())


def holder_code_encrypt(master: str, code: str) -> bytes:
    if not code:
        return b""
    return get_suite("gm").encrypt(_keys(master)[0], code.encode(), _AAD)


def holder_code_decrypt(master: str, blob: bytes | memoryview | None) -> str:
    if not blob:
        return ""
    return get_suite("gm").decrypt(_keys(master)[0], bytes(blob), _AAD).decode()
