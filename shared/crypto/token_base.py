"""What both forms of signed token share (`shared.crypto.tokens`, `shared.crypto.qr_tokens`):
the algorithms, the signature's size, the error every refusal raises, the verified result."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.crypto.suites import SUITE_NAMES, get_suite

# alg → suite name: "SM2-SM3" → "gm", "ES256" → "intl".
TOKEN_ALGORITHMS: Mapping[str, str] = {get_suite(name).token_alg: name for name in SUITE_NAMES}

COORDINATE_SIZE = 32  # both SM2 and P-256 have 256-bit scalars

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
