"""Compact signed tokens: ``<header>.<payload>.<signature>``, each part base64url without padding.

Used in QR codes (verifiable offline against the published trust list) and, later, for node → hub
envelopes. The layout is that of JWS compact serialisation (RFC 7515), so an ``ES256`` token is a
standard JWT that any JOSE library verifies:

- header: canonical JSON ``{"alg": "SM2-SM3" | "ES256", "kid": <key id>}`` and nothing else;
- payload: the claims as canonical JSON (sorted keys, ``,`` / ``:`` separators, UTF-8, no NaN);
- signature: over the ASCII bytes ``<header>.<payload>``, as raw ``r ‖ s`` (2 × 32 bytes,
  big-endian), the JWS form, not DER: shorter in a QR code, and one signature has one encoding.
  ``SM2-SM3`` is SM2 with SM3 and the default user ID ``1234567812345678`` (GM/T 0009).

Verification is strict: the three parts must be canonical base64url (no padding, no stray bits),
JSON objects may not repeat a key, the ``alg`` must be the resolved key's own (no algorithm
confusion), and numeric ``exp`` / ``nbf`` claims (unix seconds) are enforced when ``now`` is
given. Every failure is a ``TokenError`` with a stable ``code``.

QR tokens (``sign_qr_token`` / ``verify_qr_token``) are a second, compact form for printed codes:
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

import base64
import binascii
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from shared.crypto.suites import SUITE_NAMES, PrivateKey, PublicKey, Suite, get_suite
from shared.domain.errors import DomainError
from shared.domain.identifiers import USCC_ALPHABET, LicenseIdentifier, parse_identifier

__all__ = [
    "QR_KID_BYTES",
    "TOKEN_ALGORITHMS",
    "TokenError",
    "VerifiedToken",
    "is_qr_token",
    "read_token_header",
    "sign_qr_token",
    "sign_token",
    "token_from_text",
    "verify_qr_token",
    "verify_token",
]

# alg → suite name: "SM2-SM3" → "gm", "ES256" → "intl".
TOKEN_ALGORITHMS: Mapping[str, str] = {get_suite(name).token_alg: name for name in SUITE_NAMES}

MAX_KID_LENGTH = 256
_COORDINATE_SIZE = 32  # both SM2 and P-256 have 256-bit scalars
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")

_MESSAGES = {
    "token.malformed": "令牌格式错误",
    "token.unknown_key": "无法识别令牌的签名密钥",
    "token.bad_signature": "令牌签名无效",
    "token.expired": "令牌已过期",
    "token.not_yet_valid": "令牌尚未生效",
}


class TokenError(Exception):
    """A token was refused.

    ``code`` is one of ``token.malformed``, ``token.unknown_key``, ``token.bad_signature``,
    ``token.expired``, ``token.not_yet_valid`` and never changes once published; ``message`` is
    Simplified Chinese for people and may be reworded.
    """

    code: str
    message: str

    def __init__(self, code: str, message: str | None = None) -> None:
        self.code = code
        self.message = message if message is not None else _MESSAGES[code]
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"TokenError(code={self.code!r}, message={self.message!r})"


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifiedToken:
    """A token whose signature, algorithm and validity window have been checked."""

    kid: str
    alg: str
    claims: dict[str, Any]


def sign_token(*, suite: Suite, key: PrivateKey, kid: str, claims: Mapping[str, object]) -> str:
    """The compact token for ``claims``, signed by ``key`` under ``kid``.

    Raises ``ValueError`` / ``TypeError`` for programming errors: a ``kid`` that is empty, longer
    than 256 characters or not printable, a key of another suite, claims that are not JSON (or
    contain NaN / infinities).
    """
    if not _valid_kid(kid):
        raise ValueError("kid must be a printable string of 1 to 256 characters")
    if not suite.owns(key):
        raise TypeError(f"{type(key).__name__} is not a key of the {suite.name} suite")
    if not all(isinstance(name, str) for name in claims):
        raise TypeError("claim names must be strings")
    header = _b64encode(_canonical_json({"alg": suite.token_alg, "kid": kid}))
    payload = _b64encode(_canonical_json(dict(claims)))
    signing_input = f"{header}.{payload}".encode("ascii")
    r, s = decode_dss_signature(suite.sign(key, signing_input))
    signature = r.to_bytes(_COORDINATE_SIZE, "big") + s.to_bytes(_COORDINATE_SIZE, "big")
    return f"{header}.{payload}.{_b64encode(signature)}"


def read_token_header(token: str) -> dict[str, str]:
    """The ``{"alg", "kid"}`` header, NOT verified: use it only to find the key to verify with.

    For a QR token the ``kid`` is the 8-hex-digit prefix it carries."""
    if is_qr_token(token):
        parsed = _qr_parse(token)
        return {"alg": parsed.alg, "kid": parsed.kid}
    return dict(_split(token)[0])


def verify_token(
    token: str,
    *,
    resolve_key: Callable[[str, str], PublicKey | None],
    now: datetime | None = None,
) -> VerifiedToken:
    """Check ``token`` and return its claims, or raise ``TokenError``.

    ``resolve_key(alg, kid)`` returns the public key registered for ``kid`` (``None`` when there is
    none); a key of another suite than ``alg`` names is refused as ``token.unknown_key``.
    ``now`` (timezone-aware; ``ValueError`` if naive) enables the ``exp`` / ``nbf`` checks:
    expired when ``now >= exp``, not yet valid when ``now < nbf``.
    """
    if now is not None and now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    header, signing_input, payload_segment, signature = _split(token)
    alg, kid = header["alg"], header["kid"]

    public_key = resolve_key(alg, kid)
    if public_key is None:
        raise TokenError("token.unknown_key")
    suite = get_suite(TOKEN_ALGORITHMS[alg])
    if not suite.owns(public_key):
        raise TokenError("token.unknown_key", "令牌声明的签名算法与该密钥不符")
    r = int.from_bytes(signature[:_COORDINATE_SIZE], "big")
    s = int.from_bytes(signature[_COORDINATE_SIZE:], "big")
    if not suite.verify(public_key, encode_dss_signature(r, s), signing_input):
        raise TokenError("token.bad_signature")

    claims = _loads(_b64decode(payload_segment))
    if not isinstance(claims, dict):
        raise TokenError("token.malformed", "令牌内容不是 JSON 对象")
    exp, nbf = _timestamp_claim(claims, "exp"), _timestamp_claim(claims, "nbf")
    if now is not None:
        moment = now.timestamp()
        if exp is not None and moment >= exp:
            raise TokenError("token.expired")
        if nbf is not None and moment < nbf:
            raise TokenError("token.not_yet_valid")
    return VerifiedToken(kid=kid, alg=alg, claims=claims)


def _split(token: str) -> tuple[dict[str, str], bytes, str, bytes]:
    """(header, signing input, payload segment, raw signature), or ``token.malformed``."""
    if not isinstance(token, str):
        raise TokenError("token.malformed")
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenError("token.malformed")
    header_segment, payload_segment, signature_segment = parts
    header = _loads(_b64decode(header_segment))
    if not (
        isinstance(header, dict)
        and set(header) == {"alg", "kid"}
        and isinstance(header["alg"], str)  # an unhashable alg would make `in` raise TypeError
        and header["alg"] in TOKEN_ALGORITHMS
        and _valid_kid(header["kid"])
    ):
        raise TokenError("token.malformed", "令牌头格式错误或签名算法不受支持")
    _b64decode(payload_segment)  # a well-formed part, even before the key is known
    signature = _b64decode(signature_segment)
    if len(signature) != 2 * _COORDINATE_SIZE:
        raise TokenError("token.malformed", "令牌签名长度错误")
    signing_input = f"{header_segment}.{payload_segment}".encode("ascii")
    return header, signing_input, payload_segment, signature


def _valid_kid(kid: object) -> bool:
    return isinstance(kid, str) and 0 < len(kid) <= MAX_KID_LENGTH and kid.isprintable()


def _timestamp_claim(claims: Mapping[str, Any], name: str) -> float | None:
    if name not in claims:
        return None
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TokenError("token.malformed", f"令牌的 {name} 不是数值时间戳")
    return value


def _canonical_json(value: object) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(segment: str) -> bytes:
    if not segment or _BASE64URL.fullmatch(segment) is None or len(segment) % 4 == 1:
        raise TokenError("token.malformed")
    try:
        data = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise TokenError("token.malformed") from None
    # Non-zero padding bits decode to the same bytes; refuse them so each token has one spelling.
    if _b64encode(data) != segment:
        raise TokenError("token.malformed")
    return data


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise ValueError(f"duplicate key {name!r}")
        result[name] = value
    return result


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _loads(data: bytes) -> Any:
    try:
        return json.loads(
            data.decode("utf-8"),
            object_pairs_hook=_reject_duplicates,
            parse_constant=_reject_constant,
        )
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise TokenError("token.malformed") from None


# --- QR tokens: binary claims, base 36 ---------------------------------------------------------

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
    signature = r.to_bytes(_COORDINATE_SIZE, "big") + s.to_bytes(_COORDINATE_SIZE, "big")
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
    r = int.from_bytes(parsed.signature[:_COORDINATE_SIZE], "big")
    s = int.from_bytes(parsed.signature[_COORDINATE_SIZE:], "big")
    der = encode_dss_signature(r, s)
    if not any(suite.verify(k, der, _QR_DOMAIN + parsed.signed) for k in keys):
        raise TokenError("token.bad_signature")
    if now is not None and now.timestamp() >= parsed.claims["exp"]:
        raise TokenError("token.expired")
    return VerifiedToken(kid=parsed.kid, alg=parsed.alg, claims=dict(parsed.claims))


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
    if len(data) <= 2 * _COORDINATE_SIZE:
        raise TokenError("token.malformed")
    body, signature = data[: -2 * _COORDINATE_SIZE], data[-2 * _COORDINATE_SIZE :]
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
    length = reader.take(1)[0]
    if not 1 <= length <= 30:
        raise TokenError("token.malformed")
    radix = 10 if flags & _QR_FLAG_NUMERIC_SERIAL else 36
    value = int.from_bytes(reader.take(_serial_width(length, radix)), "big")
    if value >= radix**length:
        raise TokenError("token.malformed")
    serial = _base_text(value, radix, length)
    if radix == 36 and serial.isdigit():
        raise TokenError("token.malformed")  # one spelling: a digit-only serial is base 10
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
