"""Holder codes with this deployment's keyring, and the model property that keeps them encrypted.

The plaintext code never reaches the database: a model declares `holder_code_enc` (SM4
ciphertext) and `holder_code_digest` (keyed HMAC-SM3, for lookup) and reads and writes the
plaintext through `holder_code = HolderCode()`. The keys are read at call time: `HOLDER_CODE_KEYS`
(``"2:<secret>,1:<old>"``, the current version first) or, alone, `HOLDER_CODE_KEY` as version 1.
Each deployment has its own: digests are not comparable across libraries, and a licence
crossing to the hub is re-encrypted there.

Every value names its key version (`shared.crypto.holder_codes`). While a rotation runs
(`manage.py node|hub holder_keys rotate`), every configured version reads and a lookup matches
the code's digest under each of them (`holder_code_digests`); a version retired by
`holder_keys retire` is refused (`HolderKeyRetiredError`) even while still configured.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from typing import Any, cast

from django.conf import settings
from django.utils import timezone

from shared.core.errors import PermanentError
from shared.crypto import holder_codes as cipher
from shared.crypto.holder_codes import HolderKeyring, HolderKeyUnavailableError
from shared.domain.errors import DomainError
from shared.domain.holder_codes import validate_holder_code

# Retired versions are read from the database at most this often per process: retiring is
# only allowed once no value is left under the version, so a few seconds' lag reads nothing.
RETIRED_CACHE_SECONDS = 5.0

_retired_source: Callable[[], frozenset[int]] | None = None
_retired_cache: tuple[float, frozenset[int]] | None = None
_retired_lock = threading.Lock()


class HolderKeyRetiredError(PermanentError):
    """A holder code under a key version that is retired or not configured: it cannot be read."""

    status_code = 409

    def __init__(self, version: int) -> None:
        super().__init__(
            "holder_key.retired",
            f"持证主体代码使用的密钥版本 {version} 已停用或未配置，无法读取",
            {"version": version},
        )
        self.version = version


def register_retired_source(source: Callable[[], frozenset[int]] | None) -> None:
    """The app that records retirements (`shared.holder_keys`) registers its reader here."""
    global _retired_source
    _retired_source = source
    holder_keyring_reset()


def holder_keyring_reset() -> None:
    """Forget the cached retired versions (after a retirement; between tests)."""
    global _retired_cache
    with _retired_lock:
        _retired_cache = None


def _retired_versions() -> frozenset[int]:
    global _retired_cache
    if _retired_source is None:
        return frozenset()
    now = time.monotonic()
    cached = _retired_cache
    if cached is not None and now - cached[0] < RETIRED_CACHE_SECONDS:
        return cached[1]
    with _retired_lock:
        versions = _retired_source()
        _retired_cache = (now, versions)
    return versions


@functools.lru_cache(maxsize=8)
def _configured(keys: str, key: str) -> HolderKeyring:
    return HolderKeyring.parse(keys) if keys.strip() else HolderKeyring.single(key)


def holder_keyring() -> HolderKeyring:
    """The configured keyring with retired versions refused."""
    ring = _configured(getattr(settings, "HOLDER_CODE_KEYS", "") or "", settings.HOLDER_CODE_KEY)
    if len(ring.keys) == 1:  # the current version is never retired: no need to ask
        return ring
    retired = _retired_versions() & set(ring.keys)
    return ring.retiring(retired) if retired else ring


def holder_code_digest(code: str) -> str:
    """The lookup digest of a (normalised) holder code under the current key version."""
    return cipher.keyring_digest(holder_keyring(), code)


def holder_code_digests(code: str) -> list[str]:
    """Its digests under every readable version, current first: filter with `__in` so rows a
    rotation has not reached yet are found too."""
    return cipher.keyring_digests(holder_keyring(), code)


def holder_code_encrypt(code: str) -> bytes:
    return cipher.keyring_encrypt(holder_keyring(), code)


def holder_code_decrypt(blob: bytes | memoryview | None) -> str:
    try:
        return cipher.keyring_decrypt(holder_keyring(), blob)
    except HolderKeyUnavailableError as exc:
        raise HolderKeyRetiredError(exc.version) from None


def holder_digests_of(row: Any) -> list[str]:
    """The digests under every readable version of the code `row` (a user, a licence) holds:
    what to match other rows against while they may still carry another version's digest."""
    digest = getattr(row, "holder_code_digest", "") or ""
    if not digest:
        return []
    if len(holder_keyring().readable) == 1:
        return [digest]
    return holder_code_digests(row.holder_code)


def holder_codes_equal(a: Any, b: Any) -> bool:
    """Whether two rows hold the same code, whatever version each was written under."""
    first, second = a.holder_code_digest or "", b.holder_code_digest or ""
    if not first or not second:
        return False
    if cipher.digest_version(first) == cipher.digest_version(second):
        return first == second
    return second in holder_digests_of(a)


class HolderCode(property):
    """The plaintext holder code of a model row, kept as ciphertext plus digest in two fields.

    A `property` (not a descriptor of its own) so that Django's model constructor accepts it
    as a keyword, as it did the hand-written properties: `License(holder_code=...)`.
    """

    def __init__(self, *, enc: str = "holder_code_enc", digest: str = "holder_code_digest"):
        # The plaintext is kept on the row beside the very ciphertext it came from: an issue
        # reads the code nine times (digest, snapshots, answer), each an SM4 decryption. A new
        # ciphertext (written, refreshed, re-encrypted by a key rotation) is decrypted again.
        held = f"_{enc}_plain"

        def read(row: Any) -> str:
            blob = getattr(row, enc)
            kept = row.__dict__.get(held)
            if kept is not None and kept[0] is blob:
                return cast(str, kept[1])
            code = holder_code_decrypt(blob)
            row.__dict__[held] = (blob, code)
            return code

        def write(row: Any, code: str) -> None:
            ring = holder_keyring()
            blob = cipher.keyring_encrypt(ring, code)
            setattr(row, enc, blob)
            setattr(row, digest, cipher.keyring_digest(ring, code))
            row.__dict__[held] = (blob, code)

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
