"""The suites' contract (``shared.crypto.suites``): the key types, the ``Suite`` protocol, the
error for data that fails a check, and the argument checks both suites share."""

from __future__ import annotations

from typing import Protocol, TypeAlias

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from shared.crypto._sm2 import Sm2PrivateKey, Sm2PublicKey

PrivateKey: TypeAlias = Sm2PrivateKey | ec.EllipticCurvePrivateKey
PublicKey: TypeAlias = Sm2PublicKey | ec.EllipticCurvePublicKey

SUITE_NAMES = ("gm", "intl")

NONCE_SIZE = 12
TAG_SIZE = 16
MIN_MAC_KEY_SIZE = 16


class CryptoError(Exception):
    """Data failed an integrity or format check: tampered ciphertext, unreadable key material.

    ``code`` is stable (``"crypto.decrypt_failed"``, ``"crypto.bad_key"``); ``message`` is
    Simplified Chinese for people.
    """

    code: str
    message: str

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"CryptoError(code={self.code!r}, message={self.message!r})"


class Suite(Protocol):
    """One family of algorithms. Obtain instances with ``get_suite``; they are stateless."""

    name: str
    """``"gm"`` or ``"intl"``."""
    token_alg: str
    """The ``alg`` of compact tokens signed with this suite: ``"SM2-SM3"`` or ``"ES256"``."""
    key_size: int
    """Symmetric key length in bytes for ``encrypt`` / ``decrypt``."""

    def digest(self, data: bytes) -> bytes: ...
    def generate_key(self) -> PrivateKey: ...
    def sign(self, key: PrivateKey, data: bytes) -> bytes: ...
    def verify(self, public_key: PublicKey, signature: bytes, data: bytes) -> bool: ...
    def encrypt(self, key: bytes, plaintext: bytes, aad: bytes = b"") -> bytes: ...
    def decrypt(self, key: bytes, blob: bytes, aad: bytes = b"") -> bytes: ...
    def mac(self, key: bytes, data: bytes) -> str: ...
    def owns(self, key: PrivateKey | PublicKey) -> bool: ...
    def public_key_of(self, key: PrivateKey) -> PublicKey: ...
    def private_key_to_pem(self, key: PrivateKey, password: bytes | None) -> bytes: ...
    def private_key_from_pem(self, data: bytes, password: bytes | None) -> PrivateKey: ...
    def public_key_to_der(self, public_key: PublicKey) -> bytes: ...
    def public_key_to_pem(self, public_key: PublicKey) -> bytes: ...
    def public_key_from_pem(self, data: bytes) -> PublicKey: ...
    def key_id(self, public_key: PublicKey) -> str: ...


def _canonical_der_rs(signature: bytes, order: int) -> bool:
    """Whether ``signature`` is the one DER encoding of an (r, s) pair in [1, order - 1]."""
    try:
        r, s = decode_dss_signature(signature)
    except (ValueError, TypeError):
        return False
    return 0 < r < order and 0 < s < order and encode_dss_signature(r, s) == signature


def _check_aead_key(key: bytes, size: int) -> None:
    if not isinstance(key, bytes | bytearray) or len(key) != size:
        raise ValueError(f"symmetric key must be exactly {size} bytes")


def _check_mac_key(key: bytes) -> None:
    if not isinstance(key, bytes | bytearray) or len(key) < MIN_MAC_KEY_SIZE:
        raise ValueError(f"MAC key must be at least {MIN_MAC_KEY_SIZE} bytes")


def _decrypt_failed() -> CryptoError:
    return CryptoError("crypto.decrypt_failed", "密文校验失败：数据被篡改、密钥或附加数据不符")


def _bad_key(what: str) -> CryptoError:
    return CryptoError("crypto.bad_key", f"无法读取{what}：格式、算法或口令不符")


def _check_password(password: bytes | None) -> None:
    if password is not None and (not isinstance(password, bytes) or not password):
        raise ValueError("a key password must be non-empty bytes (or None for no encryption)")
