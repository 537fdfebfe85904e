"""Holder codes at rest: SM4-GCM ciphertext plus a keyed HMAC-SM3 digest for lookup (DESIGN §5).

Pure: the secrets are passed in (`shared.core.holder_codes` reads them from the settings).
Two keys are derived from each master secret: an SM4 key for the ciphertext and an HMAC key for
the digest, so equal codes give equal digests (lookup works) while the digest reveals nothing
without the key.

Key versions (docs/pki.md, 持证主体代码密钥): a keyring holds several masters, each under a
version number, the current one writing. Every ciphertext and digest names its version:
- version 1 is the legacy format the databases already hold, unchanged: a bare blob
  ``nonce ‖ ciphertext ‖ tag`` and a bare 64-hex digest. Its absence of a prefix *is* its name.
- version N ≥ 2: the blob is ``b"HK" ‖ N (one byte) ‖ nonce ‖ ciphertext ‖ tag`` with the
  version bound into the GCM associated data (a changed version byte fails authentication), and
  the digest is ``"N:" ‖ 64 hex`` (hex never holds a colon, so a digest's version is exact).
A legacy blob whose random nonce happens to start with the prefix (2⁻²⁴) still reads: a prefixed
blob that fails authentication is tried as version 1.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field

from shared.crypto.suite_base import CryptoError
from shared.crypto.suites import get_suite

_AAD = b"elicense:holder_code"
LEGACY_VERSION = 1
MAX_VERSION = 255
BLOB_PREFIX = b"HK"


@functools.cache
@functools.lru_cache(maxsize=16)
def _keys(master: str) -> tuple[bytes, bytes]:
    """Derived once per master: two SM3 digests for each value were half the cost of
    encrypting and digesting a holder code (20 of 31 µs; the hub does both per licence)."""
    suite = get_suite("gm")
    secret = master.encode()
    return suite.digest(b"enc\x00" + secret)[:16], suite.digest(b"mac\x00" + secret)


def holder_code_digest(master: str, code: str) -> str:
    """The version-1 (legacy) lookup digest of a normalised holder code: 64 hex characters."""
    if not code:
        return ""
    return get_suite("gm").mac(_keys(master)[1], code.encode())


def holder_code_encrypt(master: str, code: str) -> bytes:
    """A version-1 (legacy, unprefixed) ciphertext."""
    if not code:
        return b""
    return get_suite("gm").encrypt(_keys(master)[0], code.encode(), _AAD)


def holder_code_decrypt(master: str, blob: bytes | memoryview | None) -> str:
    """Read a version-1 (legacy, unprefixed) ciphertext."""
    if not blob:
        return ""
    return get_suite("gm").decrypt(_keys(master)[0], bytes(blob), _AAD).decode()


class HolderKeyUnavailableError(CryptoError):
    """A value names a key version this keyring cannot use (retired, or never configured)."""

    def __init__(self, version: int) -> None:
        super().__init__(
            "holder_key.unavailable",
            f"持证主体代码密钥版本 {version} 不可用（已停用或未配置），该数据无法读取",
        )
        self.version = version


@dataclass(frozen=True, slots=True)
class HolderKeyring:
    """The holder-code masters by version; ``current`` writes, every version in ``keys`` reads."""

    keys: Mapping[int, str]
    current: int
    retired: frozenset[int] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if not self.keys:
            raise ValueError("a holder-code keyring needs at least one key")
        for version, master in self.keys.items():
            if not LEGACY_VERSION <= version <= MAX_VERSION:
                raise ValueError(f"holder-code key version {version} is not in 1–{MAX_VERSION}")
            if not master:
                raise ValueError(f"holder-code key version {version} is empty")
        if self.current not in self.keys:
            raise ValueError(f"the current holder-code key version {self.current} has no key")
        if self.current in self.retired:
            raise ValueError(f"the current holder-code key version {self.current} is retired")

    @classmethod
    def parse(cls, text: str) -> HolderKeyring:
        """``"2:<secret>,1:<old secret>"``: the first entry is the current (writing) version."""
        keys: dict[int, str] = {}
        order: list[int] = []
        for entry in (part.strip() for part in text.split(",")):
            if not entry:
                continue
            version_text, sep, master = entry.partition(":")
            if not sep or not version_text.strip().isdigit():
                raise ValueError("HOLDER_CODE_KEYS entries are <version>:<secret>, comma-separated")
            version = int(version_text)
            if version in keys:
                raise ValueError(f"holder-code key version {version} is listed twice")
            keys[version] = master.strip()
            order.append(version)
        if not order:
            raise ValueError("HOLDER_CODE_KEYS lists no key")
        return cls(keys=keys, current=order[0])

    @classmethod
    def single(cls, master: str) -> HolderKeyring:
        """A deployment with only ``HOLDER_CODE_KEY``: that key is version 1."""
        return cls(keys={LEGACY_VERSION: master}, current=LEGACY_VERSION)

    def retiring(self, versions: frozenset[int] | set[int]) -> HolderKeyring:
        """This keyring with ``versions`` refused (their values no longer read)."""
        return HolderKeyring(keys=self.keys, current=self.current, retired=frozenset(versions))

    @property
    def readable(self) -> tuple[int, ...]:
        """The versions that read, current first, then newest to oldest."""
        others = sorted(v for v in self.keys if v not in self.retired and v != self.current)
        return (self.current, *reversed(others))

    def master(self, version: int) -> str:
        if version in self.retired or version not in self.keys:
            raise HolderKeyUnavailableError(version)
        return self.keys[version]


def blob_version(blob: bytes | memoryview | None) -> int:
    """The version a ciphertext names (0 for an empty value)."""
    if not blob:
        return 0
    data = bytes(blob[:3])
    if len(data) == 3 and data[:2] == BLOB_PREFIX and data[2] > LEGACY_VERSION:
        return data[2]
    return LEGACY_VERSION


def digest_version(digest: str) -> int:
    """The version a digest names (0 for an empty value)."""
    if not digest:
        return 0
    version, sep, _ = digest.partition(":")
    return int(version) if sep and version.isdigit() else LEGACY_VERSION


def digest_prefix(version: int) -> str:
    """What every digest of ``version`` starts with ("" for the unprefixed version 1)."""
    return "" if version == LEGACY_VERSION else f"{version}:"


def blob_prefix(version: int) -> bytes:
    return b"" if version == LEGACY_VERSION else BLOB_PREFIX + bytes([version])


def _aad(version: int) -> bytes:
    return _AAD if version == LEGACY_VERSION else _AAD + b":v" + str(version).encode()


def keyring_digest(ring: HolderKeyring, code: str, version: int | None = None) -> str:
    """The digest under ``version`` (default: the current one), naming that version."""
    if not code:
        return ""
    version = ring.current if version is None else version
    mac_key = _keys(ring.master(version))[1]
    return digest_prefix(version) + get_suite("gm").mac(mac_key, code.encode())


def keyring_digests(ring: HolderKeyring, code: str) -> list[str]:
    """The digests of ``code`` under every readable version: what a lookup must match while
    a rotation runs (rows not yet re-encrypted still carry the old version's digest)."""
    if not code:
        return []
    return [keyring_digest(ring, code, version) for version in ring.readable]


def keyring_encrypt(ring: HolderKeyring, code: str, version: int | None = None) -> bytes:
    """A ciphertext under ``version`` (default: the current one), naming that version."""
    if not code:
        return b""
    version = ring.current if version is None else version
    enc_key = _keys(ring.master(version))[0]
    return blob_prefix(version) + get_suite("gm").encrypt(enc_key, code.encode(), _aad(version))


def keyring_decrypt(ring: HolderKeyring, blob: bytes | memoryview | None) -> str:
    """Read a ciphertext of any readable version; `HolderKeyUnavailableError` for a value under a
    retired or unknown version, `CryptoError` for a tampered one."""
    if not blob:
        return ""
    data = bytes(blob)
    version = blob_version(data)
    if version != LEGACY_VERSION:
        try:
            enc_key = _keys(ring.master(version))[0]
            return get_suite("gm").decrypt(enc_key, data[3:], _aad(version)).decode()
        except CryptoError as exc:
            # Perhaps a legacy blob whose nonce starts like a prefix (2⁻²⁴): try it as one.
            if LEGACY_VERSION not in ring.readable:
                raise exc from None
            try:
                return holder_code_decrypt(ring.keys[LEGACY_VERSION], data)
            except CryptoError:
                raise exc from None
    return holder_code_decrypt(ring.master(LEGACY_VERSION), data)
