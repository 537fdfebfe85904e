"""Algorithm suites: one object per family of algorithms, chosen by name.

``gm`` (国密, the default: art. 27) signs with SM2, digests with SM3 and encrypts with SM4-GCM;
``intl`` signs with ECDSA P-256, digests with SHA-256 and encrypts with AES-256-GCM, for
consumers that can only verify those (PDF readers, JWS libraries).

Contract (callers and the tests rely on it):

- ``sign`` returns a DER ``SEQUENCE { r, s }``. SM2 signs ``SM3(Z ‖ data)`` with the default user
  ID ``1234567812345678`` (GB/T 32918.2, GM/T 0009); ECDSA signs ``SHA-256(data)``.
- ``verify`` returns ``False`` for any bad, malformed or non-canonically encoded signature and
  never raises for bad signature bytes; it raises ``TypeError`` only when handed a key of the
  other suite (a programming error that must not pass silently as "invalid").
- ``encrypt`` returns ``nonce (12 bytes) ‖ ciphertext ‖ tag (16 bytes)`` with a fresh random
  nonce; ``decrypt`` raises ``CryptoError`` when the blob, the key or the ``aad`` do not match.
  Keys are exactly ``key_size`` bytes (16 for SM4, 32 for AES-256), else ``ValueError``.
- ``mac`` is HMAC-SM3 / HMAC-SHA256 in lowercase hex, for keyed digests of holder codes; the key
  must be at least 16 bytes.
- Keys serialise as PEM: PKCS#8 (PBES2-encrypted when a password is given) and SPKI; SM2 keys
  carry id-ecPublicKey with the SM2 curve OID 1.2.156.10197.1.301 (GM/T 0010).
- ``key_id`` is the hex of the first 16 bytes of the suite's digest of the DER SPKI.

The same key functions exist at module level, dispatching on the key's type (or trying each
suite for PEM input), for code that holds a key without knowing its suite (trust lists).
The key types, ``Suite``, ``CryptoError`` and the shared argument checks live in
``shared.crypto.suite_base`` and are exported from here too.
"""

from __future__ import annotations

import hashlib
import os

from cryptography.exceptions import InvalidSignature, InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, hmac, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.crypto import _sm2
from shared.crypto._sm2 import Sm2PrivateKey, Sm2PublicKey
from shared.crypto.suite_base import (
    NONCE_SIZE,
    SUITE_NAMES,
    TAG_SIZE,
    CryptoError,
    PrivateKey,
    PublicKey,
    Suite,
    _bad_key,
    _canonical_der_rs,
    _check_aead_key,
    _check_mac_key,
    _check_password,
    _decrypt_failed,
)

__all__ = [
    "CryptoError",
    "PrivateKey",
    "PublicKey",
    "Sm2PrivateKey",
    "Sm2PublicKey",
    "Suite",
    "SUITE_NAMES",
    "get_suite",
    "key_id",
    "private_key_from_pem",
    "private_key_to_pem",
    "public_key_from_pem",
    "public_key_of",
    "public_key_to_pem",
    "suite_for_key",
]

# Order n of NIST P-256; r and s of a valid ECDSA signature lie in [1, n - 1].
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


class _GmSuite:
    name = "gm"
    token_alg = "SM2-SM3"
    key_size = 16

    def digest(self, data: bytes) -> bytes:
        h = hashes.Hash(hashes.SM3())
        h.update(data)
        return h.finalize()

    def generate_key(self) -> Sm2PrivateKey:
        return _sm2.generate()

    def sign(self, key: PrivateKey, data: bytes) -> bytes:
        return _sm2.sign(self._private(key), data)

    def verify(self, public_key: PublicKey, signature: bytes, data: bytes) -> bool:
        return _sm2.verify(self._public(public_key), signature, data)

    def encrypt(self, key: bytes, plaintext: bytes, aad: bytes = b"") -> bytes:
        _check_aead_key(key, self.key_size)
        nonce = os.urandom(NONCE_SIZE)
        encryptor = Cipher(algorithms.SM4(bytes(key)), modes.GCM(nonce)).encryptor()
        encryptor.authenticate_additional_data(aad)
        ciphertext = encryptor.update(plaintext) + encryptor.finalize()
        return nonce + ciphertext + encryptor.tag

    def decrypt(self, key: bytes, blob: bytes, aad: bytes = b"") -> bytes:
        _check_aead_key(key, self.key_size)
        if len(blob) < NONCE_SIZE + TAG_SIZE:
            raise _decrypt_failed()
        nonce, ciphertext, tag = blob[:NONCE_SIZE], blob[NONCE_SIZE:-TAG_SIZE], blob[-TAG_SIZE:]
        decryptor = Cipher(algorithms.SM4(bytes(key)), modes.GCM(nonce, tag)).decryptor()
        decryptor.authenticate_additional_data(aad)
        plaintext = decryptor.update(ciphertext)
        try:
            return plaintext + decryptor.finalize()
        except InvalidTag:
            raise _decrypt_failed() from None

    def mac(self, key: bytes, data: bytes) -> str:
        _check_mac_key(key)
        h = hmac.HMAC(bytes(key), hashes.SM3())
        h.update(data)
        return h.finalize().hex()

    def owns(self, key: PrivateKey | PublicKey) -> bool:
        return isinstance(key, Sm2PrivateKey | Sm2PublicKey)

    def public_key_of(self, key: PrivateKey) -> Sm2PublicKey:
        return self._private(key).public

    def private_key_to_pem(self, key: PrivateKey, password: bytes | None) -> bytes:
        _check_password(password)
        return _sm2.private_to_pem(self._private(key), password)

    def private_key_from_pem(self, data: bytes, password: bytes | None) -> Sm2PrivateKey:
        try:
            return _sm2.private_from_pem(data, password)
        except ValueError:
            raise _bad_key("SM2 私钥") from None

    def public_key_to_der(self, public_key: PublicKey) -> bytes:
        return _sm2.public_to_der(self._public(public_key))

    def public_key_to_pem(self, public_key: PublicKey) -> bytes:
        return _sm2.public_to_pem(self._public(public_key))

    def public_key_from_pem(self, data: bytes) -> Sm2PublicKey:
        try:
            return _sm2.public_from_pem(data)
        except ValueError:
            raise _bad_key("SM2 公钥") from None

    def key_id(self, public_key: PublicKey) -> str:
        return self.digest(self.public_key_to_der(public_key))[:16].hex()

    @staticmethod
    def _private(key: PrivateKey) -> Sm2PrivateKey:
        if not isinstance(key, Sm2PrivateKey):
            raise TypeError(f"the gm suite needs an SM2 private key, not {type(key).__name__}")
        return key

    @staticmethod
    def _public(key: PublicKey) -> Sm2PublicKey:
        if not isinstance(key, Sm2PublicKey):
            raise TypeError(f"the gm suite needs an SM2 public key, not {type(key).__name__}")
        return key

    def __repr__(self) -> str:
        return "<Suite gm: SM2/SM3/SM4-GCM>"


class _IntlSuite:
    name = "intl"
    token_alg = "ES256"
    key_size = 32

    def digest(self, data: bytes) -> bytes:
        return hashlib.sha256(data).digest()

    def generate_key(self) -> ec.EllipticCurvePrivateKey:
        return ec.generate_private_key(ec.SECP256R1())

    def sign(self, key: PrivateKey, data: bytes) -> bytes:
        return self._private(key).sign(data, ec.ECDSA(hashes.SHA256()))

    def verify(self, public_key: PublicKey, signature: bytes, data: bytes) -> bool:
        key = self._public(public_key)
        if not _canonical_der_rs(signature, _P256_ORDER):
            return False
        try:
            key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError, TypeError):
            return False
        return True

    def encrypt(self, key: bytes, plaintext: bytes, aad: bytes = b"") -> bytes:
        _check_aead_key(key, self.key_size)
        nonce = os.urandom(NONCE_SIZE)
        return nonce + AESGCM(bytes(key)).encrypt(nonce, plaintext, aad)

    def decrypt(self, key: bytes, blob: bytes, aad: bytes = b"") -> bytes:
        _check_aead_key(key, self.key_size)
        if len(blob) < NONCE_SIZE + TAG_SIZE:
            raise _decrypt_failed()
        try:
            return AESGCM(bytes(key)).decrypt(blob[:NONCE_SIZE], blob[NONCE_SIZE:], aad)
        except InvalidTag:
            raise _decrypt_failed() from None

    def mac(self, key: bytes, data: bytes) -> str:
        _check_mac_key(key)
        h = hmac.HMAC(bytes(key), hashes.SHA256())
        h.update(data)
        return h.finalize().hex()

    def owns(self, key: PrivateKey | PublicKey) -> bool:
        return isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) and (
            isinstance(key.curve, ec.SECP256R1)
        )

    def public_key_of(self, key: PrivateKey) -> ec.EllipticCurvePublicKey:
        return self._private(key).public_key()

    def private_key_to_pem(self, key: PrivateKey, password: bytes | None) -> bytes:
        _check_password(password)
        encryption: serialization.KeySerializationEncryption = (
            serialization.NoEncryption()
            if password is None
            else serialization.BestAvailableEncryption(password)
        )
        return self._private(key).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )

    def private_key_from_pem(
        self, data: bytes, password: bytes | None
    ) -> ec.EllipticCurvePrivateKey:
        try:
            key = serialization.load_pem_private_key(data, password)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise _bad_key("P-256 私钥") from None
        if not (isinstance(key, ec.EllipticCurvePrivateKey) and self.owns(key)):
            raise _bad_key("P-256 私钥")
        return key

    def public_key_to_der(self, public_key: PublicKey) -> bytes:
        return self._public(public_key).public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def public_key_to_pem(self, public_key: PublicKey) -> bytes:
        return self._public(public_key).public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def public_key_from_pem(self, data: bytes) -> ec.EllipticCurvePublicKey:
        try:
            key = serialization.load_pem_public_key(data)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise _bad_key("P-256 公钥") from None
        if not (isinstance(key, ec.EllipticCurvePublicKey) and self.owns(key)):
            raise _bad_key("P-256 公钥")
        return key

    def key_id(self, public_key: PublicKey) -> str:
        return self.digest(self.public_key_to_der(public_key))[:16].hex()

    def _private(self, key: PrivateKey) -> ec.EllipticCurvePrivateKey:
        if not (isinstance(key, ec.EllipticCurvePrivateKey) and self.owns(key)):
            raise TypeError(f"the intl suite needs a P-256 private key, not {type(key).__name__}")
        return key

    def _public(self, key: PublicKey) -> ec.EllipticCurvePublicKey:
        if not (isinstance(key, ec.EllipticCurvePublicKey) and self.owns(key)):
            raise TypeError(f"the intl suite needs a P-256 public key, not {type(key).__name__}")
        return key

    def __repr__(self) -> str:
        return "<Suite intl: ECDSA-P256/SHA-256/AES-256-GCM>"


_SUITES: dict[str, Suite] = {"gm": _GmSuite(), "intl": _IntlSuite()}


def get_suite(name: str) -> Suite:
    """The suite called ``name`` (``"gm"`` or ``"intl"``); ``ValueError`` for any other name."""
    try:
        return _SUITES[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown crypto suite {name!r}; expected one of {SUITE_NAMES}") from None


def suite_for_key(key: PrivateKey | PublicKey) -> Suite:
    """The suite a key belongs to; ``TypeError`` for keys of no suite (e.g. RSA, P-384)."""
    for suite in _SUITES.values():
        if suite.owns(key):
            return suite
    raise TypeError(f"{type(key).__name__} belongs to no crypto suite")


def public_key_of(key: PrivateKey) -> PublicKey:
    return suite_for_key(key).public_key_of(key)


def private_key_to_pem(key: PrivateKey, password: bytes | None) -> bytes:
    return suite_for_key(key).private_key_to_pem(key, password)


def private_key_from_pem(data: bytes, password: bytes | None) -> PrivateKey:
    """Reads an SM2 or P-256 PKCS#8 PEM; ``CryptoError("crypto.bad_key")`` for anything else."""
    for suite in _SUITES.values():
        try:
            return suite.private_key_from_pem(data, password)
        except CryptoError:
            continue
    raise _bad_key("私钥")


def public_key_to_pem(public_key: PublicKey) -> bytes:
    return suite_for_key(public_key).public_key_to_pem(public_key)


def public_key_from_pem(data: bytes) -> PublicKey:
    """Reads an SM2 or P-256 SPKI PEM; ``CryptoError("crypto.bad_key")`` for anything else."""
    for suite in _SUITES.values():
        try:
            return suite.public_key_from_pem(data)
        except CryptoError:
            continue
    raise _bad_key("公钥")


def key_id(public_key: PublicKey) -> str:
    """32 hex characters: the key's suite digest of its DER SPKI, first 16 bytes."""
    return suite_for_key(public_key).key_id(public_key)
