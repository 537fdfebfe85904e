"""SM2 keys and signatures over the native Tongsuo library (``tongsuopy``).

``cryptography`` has SM3 and SM4 but no SM2 curve, and the pure-Python ``gmssl`` signs about
100 times a second, so SM2 goes through Tongsuo's C implementation. Everything else in this
package uses ``cryptography``; this module is the only one that touches ``tongsuopy``, and it
hands out small wrapper objects so that the untyped native keys never leak into typed code.

Tongsuo's ``EVP_DigestSign`` over an SM2 key computes ``e = SM3(Z ‖ M)`` with the default user
ID ``1234567812345678`` (GB/T 32918.2, GM/T 0009), which is what every Chinese verifier expects
when no ID is agreed. The tests check this against the independent pure-Python ``gmssl``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from tongsuopy.crypto import (  # type: ignore[import-untyped, unused-ignore]
    hashes as ts_hashes,
)
from tongsuopy.crypto import (  # type: ignore[import-untyped, unused-ignore]
    serialization as ts_serialization,
)
from tongsuopy.crypto.asymciphers import (  # type: ignore[import-untyped, unused-ignore]
    ec as ts_ec,
)

# Order n of the SM2 recommended curve (GB/T 32918.5); r and s must lie in [1, n - 1].
SM2_ORDER = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123

# ECDSA(SM3) over an SM2-curve key is Tongsuo's spelling of SM2-with-SM3 (Z value included).
_SIGNATURE_ALGORITHM = ts_ec.ECDSA(ts_hashes.SM3())


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class Sm2PublicKey:
    """An SM2 public key. Equal (and hashable) by its point ``04 ‖ x ‖ y`` (65 bytes)."""

    point: bytes
    native: Any = field(compare=False)

    def __repr__(self) -> str:
        return f"Sm2PublicKey(point={self.point.hex()})"


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Sm2PrivateKey:
    """An SM2 private key, equal only to itself; repr shows the public half, never the scalar."""

    public: Sm2PublicKey
    native: Any

    def __repr__(self) -> str:
        return f"Sm2PrivateKey(public={self.public.point.hex()})"


def _wrap_public(native: Any) -> Sm2PublicKey:
    point = native.public_bytes(
        ts_serialization.Encoding.X962, ts_serialization.PublicFormat.UncompressedPoint
    )
    return Sm2PublicKey(point=bytes(point), native=native)


def _wrap_private(native: Any) -> Sm2PrivateKey:
    return Sm2PrivateKey(public=_wrap_public(native.public_key()), native=native)


def _is_sm2(native: Any) -> bool:
    return isinstance(getattr(native, "curve", None), ts_ec.SM2)


def generate() -> Sm2PrivateKey:
    return _wrap_private(ts_ec.generate_private_key(ts_ec.SM2()))


def from_private_value(value: int) -> Sm2PrivateKey:
    """The key with scalar ``value`` (1 ≤ value ≤ n − 2); for tests and known-answer vectors."""
    if not 1 <= value <= SM2_ORDER - 2:
        raise ValueError("SM2 private scalar out of range")
    return _wrap_private(ts_ec.derive_private_key(value, ts_ec.SM2()))


def sign(key: Sm2PrivateKey, data: bytes) -> bytes:
    """DER ``SEQUENCE { r INTEGER, s INTEGER }`` over ``SM3(Z ‖ data)``, default user ID."""
    return bytes(key.native.sign(bytes(data), _SIGNATURE_ALGORITHM))


def verify(public_key: Sm2PublicKey, signature: bytes, data: bytes) -> bool:
    # Parse and bound-check in Python first: Tongsuo reports unparsable DER as an internal error
    # and we want garbage to be an ordinary "no". Re-encoding rejects non-canonical DER (long-form
    # lengths, padded integers, trailing bytes), so one signature has exactly one encoding.
    try:
        r, s = decode_dss_signature(signature)
    except (ValueError, TypeError):
        return False
    if not (0 < r < SM2_ORDER and 0 < s < SM2_ORDER):
        return False
    if encode_dss_signature(r, s) != signature:
        return False
    try:
        public_key.native.verify(signature, bytes(data), _SIGNATURE_ALGORITHM)
    except Exception:  # InvalidSignature, InternalError, ...: all mean "not a valid signature"
        return False
    return True


def private_to_pem(key: Sm2PrivateKey, password: bytes | None) -> bytes:
    encryption = (
        ts_serialization.NoEncryption()
        if password is None
        else ts_serialization.BestAvailableEncryption(password)
    )
    return bytes(
        key.native.private_bytes(
            ts_serialization.Encoding.PEM, ts_serialization.PrivateFormat.PKCS8, encryption
        )
    )


def private_from_pem(data: bytes, password: bytes | None) -> Sm2PrivateKey:
    """Raises ``ValueError`` for anything that is not an SM2 private key under ``password``."""
    try:
        native = ts_serialization.load_pem_private_key(data, password)
    except Exception as exc:  # Tongsuo mixes ValueError, TypeError and its own
        raise ValueError("not an SM2 private key (or wrong password)") from exc
    if not _is_sm2(native):
        raise ValueError("not an SM2 private key")
    return _wrap_private(native)


def public_to_der(public_key: Sm2PublicKey) -> bytes:
    """DER SubjectPublicKeyInfo: id-ecPublicKey with the SM2 curve OID 1.2.156.10197.1.301."""
    return bytes(
        public_key.native.public_bytes(
            ts_serialization.Encoding.DER, ts_serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def public_to_pem(public_key: Sm2PublicKey) -> bytes:
    return bytes(
        public_key.native.public_bytes(
            ts_serialization.Encoding.PEM, ts_serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def public_from_pem(data: bytes) -> Sm2PublicKey:
    """Raises ``ValueError`` for anything that is not an SM2 SubjectPublicKeyInfo PEM."""
    try:
        native = ts_serialization.load_pem_public_key(data)
    except Exception as exc:  # Tongsuo mixes ValueError and its own types
        raise ValueError("not an SM2 public key") from exc
    if not _is_sm2(native):
        raise ValueError("not an SM2 public key")
    return _wrap_public(native)


def public_from_point(point: bytes) -> Sm2PublicKey:
    """The key for an uncompressed (04 ‖ x ‖ y) or compressed point; ValueError if off-curve."""
    try:
        native = ts_ec.EllipticCurvePublicKey.from_encoded_point(ts_ec.SM2(), bytes(point))
    except Exception as exc:  # Tongsuo mixes ValueError and its own types
        raise ValueError("not a point on the SM2 curve") from exc
    return _wrap_public(native)


def public_from_der(data: bytes) -> Sm2PublicKey:
    """The key of a DER SubjectPublicKeyInfo; ``ValueError`` if it is not an SM2 key."""
    try:
        native = ts_serialization.load_der_public_key(bytes(data))
    except Exception as exc:  # Tongsuo mixes ValueError and its own types
        raise ValueError("not an SM2 public key") from exc
    if not _is_sm2(native):
        raise ValueError("not an SM2 public key")
    return _wrap_public(native)
