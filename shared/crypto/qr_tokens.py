"""QR tokens (``sign_qr_token`` / ``verify_qr_token``), the second, compact form of the signed
tokens of `shared.crypto.tokens`, for printed codes:
binary claims with the identifier split into its GB/T 36904 parts, a 4-byte key id and the same
raw 64-byte ``r ‖ s`` signature, written in upper-case base 36 (about 175 characters, where the
JWS form made a 428-character URL). Base 36 rather than base 45 (the EU digital COVID
certificate's choice): both are QR alphanumeric mode, but base 45's space, ``%`` and ``/`` must
be percent-encoded in a URL path, which costs more than base 36's slightly lower density.
Layout of the decoded bytes (all integers big-endian)::

    0       header: 0x10 | alg (1 = SM2-SM3, 2 = ES256)
    1–4     the first 4 bytes of the key id (a prefix: the verifier tries each key it matches)
    5–8     iat, 9–12 exp: unix seconds (uint32)
    13      flags: 1 = serial all digits, 2 = status-list index present,
                   4 = issuer other than the identifier's issuer part
    14–26   type code: definer's 统一社会信用代码 (base 31) × 1000 + 3-digit sequence
    27–38   issuer code from the identifier (base 31)
    39      serial length n (1–30), then the serial as one integer in base 10 or 36, in the
            fewest bytes that hold any n-character serial
    …       version (uint16, 1–999), [status-list index: LEB128], [issuer: base 31, 12 bytes]
    last 64 signature over b"elicense-qr-token:" + every byte before it

The check character and the identifier root are recomputed, not carried. Decoding is strict:
one spelling per token (no leading zero, canonical integers, no trailing bytes).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from shared.crypto.suites import PrivateKey, PublicKey, Suite, get_suite
from shared.crypto.token_base import COORDINATE_SIZE, TOKEN_ALGORITHMS, TokenError, VerifiedToken
from shared.domain.errors import DomainError
from shared.domain.identifiers import USCC_ALPHABET, LicenseIdentifier, parse_identifier

QR_KID_BYTES = 4
_QR_FORMAT = 0x10
_QR_ALGS = {"SM2-SM3": 1, "ES256": 2}
_QR_ALG_NAMES = {code: name for name, code in _QR_ALGS.items()}
_QR_DOMAIN = b"elicense-qr-token:"  # never the start of a JWS signing input ("eyJ…")
_QR_FLAG_NUMERIC_SERIAL, _QR_FLAG_STATUS_INDEX, _QR_FLAG_ISSUER = 1, 2, 4
_QR_MAX_CHARS = 400  # a v1 token is 170–200 characters; bounds int() on hostile input
_BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_BASE36_TEXT = re.compile(r"[0-9A-Z]+")
_QR_TEXT = re.compile(r"[0-9A-Za-z]+")
_USCC_VALUES = {char: value for value, char in enumerate(USCC_ALPHABET)}
_USCC_BYTES = 12  # 31**18 < 2**96
_TYPE_BYTES = 13  # 31**18 * 1000 < 2**104
_UINT32 = 2**32
_MAX_STATUS_INDEX = 2**28 - 1  # four LEB128 bytes


def is_qr_token(token: object) -> bool:
    """Whether ``token`` has the QR form (letters and digits only; a JWS always has dots)."""
    return isinstance(token, str) and _QR_TEXT.fullmatch(token) is not None


def token_from_text(text: str) -> str:
    """The token in what a person pastes or a scanner reads: a bare token or a verify URL
    (``…/v/<token>`` or ``…/V/<token>``, query and fragment dropped). A QR token is returned
    in upper case: base 36 has one case, so a lower-cased copy still verifies."""
    token = text.strip()
    lowered = token.lower()
    if "/v/" in lowered:
        token = token[lowered.rindex("/v/") + 3 :]
        token = token.split("?", 1)[0].split("#", 1)[0]
    return token.upper() if is_qr_token(token) else token


@dataclass(frozen=True, slots=True, kw_only=True)
class _QrParsed:
    alg: str
    kid: str  # hex prefix
    signed: bytes
    signature: bytes
    claims: dict[str, Any]


def sign_qr_token(
    *,
    suite: Suite,
    key: PrivateKey,
    kid: str,
    identifier: str,
    issuer: str,
    issued_at: int,
    expires_at: int,
    status_index: int | None = None,
) -> str:
    """The compact QR token (upper-case base 36) for one licence version.

    ``kid`` is the key's full hexadecimal key id; the token carries its first 4 bytes. The
    version comes from the identifier. Raises ``ValueError`` / ``TypeError`` for programming
    errors (an invalid identifier, an issuer that is not a 统一社会信用代码, times outside
    uint32, a key of another suite).
    """
    if not suite.owns(key):
        raise TypeError(f"{type(key).__name__} is not a key of the {suite.name} suite")
    try:
        kid_bytes = bytes.fromhex(kid)[:QR_KID_BYTES]
    except ValueError:
        raise ValueError("kid must be hexadecimal") from None
    if len(kid_bytes) != QR_KID_BYTES:
        raise ValueError(f"kid must hold at least {QR_KID_BYTES} bytes")
    try:
        parsed = parse_identifier(identifier)
    except DomainError as exc:
        raise ValueError(f"not a licence identifier: {exc}") from None
    for name, value in (("issued_at", issued_at), ("expires_at", expires_at)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < _UINT32:
            raise ValueError(f"{name} must be unix seconds in uint32")
    flags = 0
    serial = parsed.serial
    if serial.isdigit():
        flags |= _QR_FLAG_NUMERIC_SERIAL
    tail = parsed.version.to_bytes(2, "big")
    if status_index is not None:
        if isinstance(status_index, bool) or not 0 <= status_index <= _MAX_STATUS_INDEX:
            raise ValueError("status_index out of range")
        flags |= _QR_FLAG_STATUS_INDEX
        tail += _varint(status_index)
    if issuer != parsed.issuer_code:
        flags |= _QR_FLAG_ISSUER
        tail += _uscc_bytes(issuer)
    radix = 10 if flags & _QR_FLAG_NUMERIC_SERIAL else 36
    body = (
        bytes([_QR_FORMAT | _QR_ALGS[suite.token_alg]])
        + kid_bytes
        + issued_at.to_bytes(4, "big")
        + expires_at.to_bytes(4, "big")
        + bytes([flags])
        + (_uscc_int(parsed.type_code[:18]) * 1000 + int(parsed.type_code[18:])).to_bytes(
            _TYPE_BYTES, "big"
        )
        + _uscc_bytes(parsed.issuer_code)
        + bytes([len(serial)])
        + int(serial, radix).to_bytes(_serial_width(len(serial), radix), "big")
        + tail
    )
    r, s = decode_dss_signature(suite.sign(key, _QR_DOMAIN + body))
    signature = r.to_bytes(COORDINATE_SIZE, "big") + s.to_bytes(COORDINATE_SIZE, "big")
    return _b36encode(body + signature)


def verify_qr_token(
    token: str,
    *,
    resolve_keys: Callable[[str, str], Iterable[PublicKey]],
    now: datetime | None = None,
) -> VerifiedToken:
    """Check a QR token and return its claims (``id``, ``ver``, ``iss``, ``iat``, ``exp`` and,
    when carried, ``sli``), or raise ``TokenError`` with the same codes as ``verify_token``.

    ``resolve_keys(alg, kid_prefix)`` returns the public keys whose key id starts with the
    8-hex-digit prefix (normally one); the token is valid if one of them verifies it.
    ``now`` (timezone-aware) enables the expiry check: expired when ``now >= exp``.
    """
    if now is not None and now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    parsed = _qr_parse(token)
    suite = get_suite(TOKEN_ALGORITHMS[parsed.alg])
    keys = [k for k in resolve_keys(parsed.alg, parsed.kid) if suite.owns(k)]
    if not keys:
        raise TokenError("token.unknown_key")
    r = int.from_bytes(parsed.signature[:COORDINATE_SIZE], "big")
    s = int.from_bytes(parsed.signature[COORDINATE_SIZE:], "big")
    der = encode_dss_signature(r, s)
    if not any(suite.verify(k, der, _QR_DOMAIN + parsed.signed) for k in keys):
        raise TokenError("token.bad_signature")
    if now is not None and now.timestamp() >= parsed.claims["exp"]:
        raise TokenError("token.expired")
    return VerifiedToken(kid=parsed.kid, alg=parsed.alg, claims=dict(parsed.claims))


def qr_token_header(token: str) -> dict[str, str]:
    """The ``{"alg", "kid"}`` a QR token carries, NOT verified; the ``kid`` is its prefix."""
    parsed = _qr_parse(token)
    return {"alg": parsed.alg, "kid": parsed.kid}


def _qr_parse(token: str) -> _QrParsed:
    """Decode the structure and claims (not the signature), or ``token.malformed``."""
    if (
        not isinstance(token, str)
        or len(token) > _QR_MAX_CHARS
        or _BASE36_TEXT.fullmatch(token) is None
        or token.startswith("0")
    ):
        raise TokenError("token.malformed")
    number = int(token, 36)
    data = number.to_bytes((number.bit_length() + 7) // 8, "big")
    if len(data) <= 2 * COORDINATE_SIZE:
        raise TokenError("token.malformed")
    body, signature = data[: -2 * COORDINATE_SIZE], data[-2 * COORDINATE_SIZE :]
    reader = _Reader(body)
    header = reader.take(1)[0]
    if header & 0xF0 != _QR_FORMAT or header & 0x0F not in _QR_ALG_NAMES:
        raise TokenError("token.malformed", "令牌格式版本或签名算法不受支持")
    kid = reader.take(QR_KID_BYTES).hex()
    issued_at = int.from_bytes(reader.take(4), "big")
    expires_at = int.from_bytes(reader.take(4), "big")
    flags = reader.take(1)[0]
    if flags & ~(_QR_FLAG_NUMERIC_SERIAL | _QR_FLAG_STATUS_INDEX | _QR_FLAG_ISSUER):
        raise TokenError("token.malformed")
    definer, sequence = divmod(int.from_bytes(reader.take(_TYPE_BYTES), "big"), 1000)
    type_code = _uscc_text(definer) + f"{sequence:03d}"
    issuer_code = _uscc_text(int.from_bytes(reader.take(_USCC_BYTES), "big"))
    serial = _read_serial(reader, numeric=bool(flags & _QR_FLAG_NUMERIC_SERIAL))
    version = int.from_bytes(reader.take(2), "big")
    claims: dict[str, Any] = {}
    if flags & _QR_FLAG_STATUS_INDEX:
        claims["sli"] = reader.varint()
    issuer = issuer_code
    if flags & _QR_FLAG_ISSUER:
        issuer = _uscc_text(int.from_bytes(reader.take(_USCC_BYTES), "big"))
        if issuer == issuer_code:
            raise TokenError("token.malformed")
    reader.end()
    try:
        identifier = LicenseIdentifier(
            type_code=type_code, issuer_code=issuer_code, serial=serial, version=version
        )
    except DomainError:
        raise TokenError("token.malformed") from None
    claims.update(
        {"id": str(identifier), "ver": version, "iss": issuer, "iat": issued_at, "exp": expires_at}
    )
    return _QrParsed(
        alg=_QR_ALG_NAMES[header & 0x0F],
        kid=kid,
        signed=body,
        signature=signature,
        claims=claims,
    )


def _read_serial(reader: _Reader, *, numeric: bool) -> str:
    """The serial: its length, then one integer in base 10 (`numeric`) or 36."""
    length = reader.take(1)[0]
    if not 1 <= length <= 30:
        raise TokenError("token.malformed")
    radix = 10 if numeric else 36
    value = int.from_bytes(reader.take(_serial_width(length, radix)), "big")
    if value >= radix**length:
        raise TokenError("token.malformed")
    serial = _base_text(value, radix, length)
    if radix == 36 and serial.isdigit():
        raise TokenError("token.malformed")  # one spelling: a digit-only serial is base 10
    return serial


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def take(self, count: int) -> bytes:
        if self.at + count > len(self.data):
            raise TokenError("token.malformed")
        chunk = self.data[self.at : self.at + count]
        self.at += count
        return chunk

    def varint(self) -> int:
        value = 0
        for position in range(4):
            byte = self.take(1)[0]
            value |= (byte & 0x7F) << (7 * position)
            if not byte & 0x80:
                if byte == 0 and position > 0:
                    raise TokenError("token.malformed")  # overlong: one spelling per number
                return value
        raise TokenError("token.malformed")

    def end(self) -> None:
        if self.at != len(self.data):
            raise TokenError("token.malformed")


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _uscc_int(code: str) -> int:
    value = 0
    for char in code:
        value = value * 31 + _USCC_VALUES[char]
    return value


def _uscc_bytes(code: str) -> bytes:
    if len(code) != 18 or any(char not in _USCC_VALUES for char in code):
        raise ValueError("issuer must be an 18-character 统一社会信用代码")
    return _uscc_int(code).to_bytes(_USCC_BYTES, "big")


def _uscc_text(value: int) -> str:
    if value >= 31**18:
        raise TokenError("token.malformed")
    chars = []
    for _ in range(18):
        value, digit = divmod(value, 31)
        chars.append(USCC_ALPHABET[digit])
    return "".join(reversed(chars))


def _serial_width(length: int, radix: int) -> int:
    largest: int = radix**length - 1  # an int: `length` is never negative
    return (largest.bit_length() + 7) // 8


def _base_text(value: int, radix: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, digit = divmod(value, radix)
        chars.append(_BASE36[digit])
    return "".join(reversed(chars))


def _b36encode(data: bytes) -> str:
    number = int.from_bytes(data, "big")  # data[0] is the header, never 0: no leading zeros
    chars = []
    while number:
        number, digit = divmod(number, 36)
        chars.append(_BASE36[digit])
    return "".join(reversed(chars))
