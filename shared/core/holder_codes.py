"""Holder codes with this deployment's key, and the model property that keeps them encrypted.

The plaintext code never reaches the database: a model declares `holder_code_enc` (SM4
ciphertext) and `holder_code_digest` (keyed HMAC-SM3, for lookup) and reads and writes the
plaintext through `holder_code = HolderCode()`. The key (`HOLDER_CODE_KEY`) is read at call
time. Each deployment has its own: digests are not comparable across libraries, and a licence
crossing to the hub is re-encrypted there.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils import timezone

from shared.crypto import holder_codes as cipher
from shared.domain.errors import DomainError
from shared.domain.holder_codes import validate_holder_code


def holder_code_digest(code: str) -> str:
    """The lookup digest of a (normalised) holder code: HMAC-SM3, 64 hex characters."""
    return cipher.holder_code_digest(settings.HOLDER_CODE_KEY, code)


def holder_code_encrypt(code: str) -> bytes:
    return cipher.holder_code_encrypt(settings.HOLDER_CODE_KEY, code)


def holder_code_decrypt(blob: bytes | memoryview | None) -> str:
    return cipher.holder_code_decrypt(settings.HOLDER_CODE_KEY, blob)


class HolderCode(property):
    """The plaintext holder code of a model row, kept as ciphertext plus digest in two fields.

    A `property` (not a descriptor of its own) so that Django's model constructor accepts it
    as a keyword, as it did the hand-written properties: `License(holder_code=...)`.
    """

    def __init__(self, *, enc: str = "holder_code_enc", digest: str = "holder_code_digest"):
        def read(row: Any) -> str:
            return holder_code_decrypt(getattr(row, enc))

        def write(row: Any, code: str) -> None:
            setattr(row, enc, holder_code_encrypt(code))
            setattr(row, digest, holder_code_digest(code))

        super().__init__(read, write, doc="The holder code in plaintext (stored encrypted).")


def holder_code_normalise(code: str, code_type: str) -> str:
    """The code as issuing stores it (upper case, 15→18-digit IDs), without refusing anything:
    a code that fails its checksum can still be looked up (legacy licences carry such codes)."""
    try:
        return validate_holder_code(code, code_type, today=timezone.localdate(), legacy=True).code
    except DomainError:
        return (code or "").strip().upper()


def holder_code_mask(code: str) -> str:
    """What a person may see of a code that is not theirs: first 3 and last 2 characters."""
    if len(code) <= 6:
        return "*" * len(code)
    return code[:3] + "*" * (len(code) - 5) + code[-2:]
