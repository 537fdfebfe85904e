"""Holder codes at rest: SM4-GCM ciphertext plus a keyed HMAC-SM3 digest for lookup (DESIGN §5).

The plaintext code never reaches the database. Two keys are derived from one master secret
(`HOLDER_CODE_KEY`, read at call time): an SM4 key for the ciphertext and an HMAC key for the
digest, so equal codes give equal digests (lookup works) while the digest reveals nothing
without the key. Each deployment has its own key: digests are not comparable across libraries,
and a licence crossing to the hub is re-encrypted there.

No model imports: `shared.accounts` and `shared.licenses` models use these helpers.
"""

from __future__ import annotations

import functools

from django.conf import settings

from shared.crypto.suites import get_suite
from shared.domain.errors import DomainError
from shared.domain.holder_codes import validate_holder_code

_AAD = b"elicense:holder_code"


@functools.cache
def _keys(master: str) -> tuple[bytes, bytes]:
    suite = get_suite("gm")
    secret = master.encode()
    return suite.digest(b"enc\x00" + secret)[:16], suite.digest(b"mac\x00" + secret)


def _master() -> str:
    return settings.HOLDER_CODE_KEY


def holder_code_digest(code: str) -> str:
    """The lookup digest of a (normalised) holder code: HMAC-SM3, 64 hex characters."""
    if not code:
        return ""
    return get_suite("gm").mac(_keys(_master())[1], code.encode())


def holder_code_encrypt(code: str) -> bytes:
    if not code:
        return b""
    return get_suite("gm").encrypt(_keys(_master())[0], code.encode(), _AAD)


def holder_code_decrypt(blob: bytes | memoryview | None) -> str:
    if not blob:
        return ""
    return get_suite("gm").decrypt(_keys(_master())[0], bytes(blob), _AAD).decode()


def holder_code_normalise(code: str, code_type: str) -> str:
    """The code as issuing stores it (upper case, 15→18-digit IDs), without refusing anything:
    a code that fails its checksum can still be looked up (legacy licences carry such codes)."""
    from django.utils import timezone

    try:
        return validate_holder_code(code, code_type, today=timezone.localdate(), legacy=True).code
    except DomainError:
        return (code or "").strip().upper()


def holder_code_mask(code: str) -> str:
    """What a person may see of a code that is not theirs: first 3 and last 2 characters."""
    if len(code) <= 6:
        return "*" * len(code)
    return code[:3] + "*" * (len(code) - 5) + code[-2:]
