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

QR tokens (``sign_qr_token`` / ``verify_qr_token``) are a second, compact form for printed codes
(`shared.crypto.qr_tokens`, exported here too).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from shared.crypto.qr_tokens import (
    QR_KID_BYTES,
    is_qr_token,
    qr_token_header,
    sign_qr_token,
    token_from_text,
    verify_qr_token,
)
from shared.crypto.suites import PrivateKey, PublicKey, Suite, get_suite
from shared.crypto.token_base import (
    COORDINATE_SIZE,
    TOKEN_ALGORITHMS,
    TokenError,
    VerifiedToken,
)

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

MAX_KID_LENGTH = 256
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


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
    signature = r.to_bytes(COORDINATE_SIZE, "big") + s.to_bytes(COORDINATE_SIZE, "big")
    return f"{header}.{payload}.{_b64encode(signature)}"


def read_token_header(token: str) -> dict[str, str]:
    """The ``{"alg", "kid"}`` header, NOT verified: use it only to find the key to verify with.

    For a QR token the ``kid`` is the 8-hex-digit prefix it carries."""
    if is_qr_token(token):
        return qr_token_header(token)
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
    r = int.from_bytes(signature[:COORDINATE_SIZE], "big")
    s = int.from_bytes(signature[COORDINATE_SIZE:], "big")
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
    if len(signature) != 2 * COORDINATE_SIZE:
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
