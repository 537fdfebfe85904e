"""Licence identifiers (GB/T 36904) and licence type codes.

An identifier reads ``1.2.156.3005.2.<type_code>.<issuer_code>.<serial>.<version>.<check>``:

- ``type_code``: 21 characters, the definer's 18-character 统一社会信用代码 plus a 3-digit
  sequence (GB/T 36902);
- ``issuer_code``: the issuing agency's 18-character 统一社会信用代码;
- ``serial``: 1–30 digits or upper-case letters, assigned by the issuer;
- ``version``: 1–999, written with 3 digits;
- ``check``: ISO/IEC 7064 MOD 37,36 over ``type_code + issuer_code + serial + version`` (the
  version as its 3 digits), without the root and without dots.

Only the shape of the embedded 统一社会信用代码 is checked here, never their own check
characters: real type codes (``11100000000013338W011``) and early pilot issuer codes are built
from codes that fail the GB 32100 checksum, and an identifier that was issued stays valid.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from shared.domain.errors import DomainError

IDENTIFIER_ROOT = "1.2.156.3005.2"

# ISO/IEC 7064 MOD 37,36 is the *hybrid* system over the 36 alphanumerics: characters and the
# check character both come from 0-9A-Z (the pure MOD 37-2 system would add "*", which this
# standard never produces). ``stdnum.iso7064.mod_37_36`` implements the same system.
MOD37_36_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_MOD37_36_VALUES = {char: value for value, char in enumerate(MOD37_36_ALPHABET)}

# GB 32100: the 31 characters a 统一社会信用代码 may contain (no I, O, S, V, Z).
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"

_USCC_SHAPE = re.compile(rf"[{USCC_ALPHABET}]{{18}}")
_TYPE_CODE_SHAPE = re.compile(rf"[{USCC_ALPHABET}]{{18}}[0-9]{{3}}")
_SERIAL_SHAPE = re.compile(r"[0-9A-Z]{1,30}")
_VERSION_SHAPE = re.compile(r"[0-9]{3}")

MIN_VERSION = 1
MAX_VERSION = 999


def mod37_36_check(payload: str) -> str:
    """Return the ISO/IEC 7064 MOD 37,36 check character for ``payload``.

    ``payload`` is made of 0-9 and A-Z (upper case only). Appending the result gives a string
    whose MOD 37,36 checksum is 1; this detects every single-character substitution and every
    transposition of adjacent characters.

    Raises ``DomainError("identifier.format")`` for any other character.
    """
    modulus = len(MOD37_36_ALPHABET)  # 36; the intermediate modulus is 37
    product = modulus
    for position, char in enumerate(payload):
        value = _MOD37_36_VALUES.get(char)
        if value is None:
            raise DomainError(
                "identifier.format",
                f"证照标识格式错误：第{position + 1}位字符“{char}”不是数字或大写字母",
                {"position": position + 1, "character": char},
            )
        remainder = (product + value) % modulus or modulus
        product = (remainder * 2) % (modulus + 1)
    return MOD37_36_ALPHABET[(modulus + 1 - product) % modulus]


def validate_type_code(code: str) -> str:
    """Validate the shape of a 21-character licence type code (证照类型代码) and return it.

    The code is the definer's 统一社会信用代码 (18 characters from the GB 32100 alphabet)
    followed by 3 digits. The embedded code's checksum is deliberately not verified (see the
    module docstring). Lower case is refused rather than silently upper-cased, because the code
    is copied verbatim into identifiers.

    Raises ``DomainError("type_code.format")``.
    """
    if not isinstance(code, str) or _TYPE_CODE_SHAPE.fullmatch(code) is None:
        raise DomainError(
            "type_code.format",
            "证照类型代码格式错误：应为21位，由18位统一社会信用代码（数字或大写字母）和3位数字顺序号组成",
            {"type_code": code if isinstance(code, str) else repr(code)},
        )
    return code


def _format_error(field: str, reason: str, value: object) -> DomainError:
    return DomainError(
        "identifier.format",
        f"证照标识格式错误：{reason}",
        {"field": field, "value": value if isinstance(value, str | int) else repr(value)},
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class LicenseIdentifier:
    """A GB/T 36904 licence identifier, split into its parts.

    Every instance is valid: the parts are checked on construction and the check character is
    computed, never stored, so it cannot disagree with the parts. ``str()`` gives the canonical
    text form, and ``parse_identifier(str(x)) == x``.
    """

    type_code: str
    issuer_code: str
    serial: str
    version: int

    def __post_init__(self) -> None:
        try:
            validate_type_code(self.type_code)
        except DomainError:
            raise _format_error(
                "type_code", "证照类型代码应为21位（18位统一社会信用代码加3位数字）", self.type_code
            ) from None
        if not isinstance(self.issuer_code, str) or not _USCC_SHAPE.fullmatch(self.issuer_code):
            raise _format_error(
                "issuer_code",
                "签发单位代码应为18位统一社会信用代码（数字或大写字母）",
                self.issuer_code,
            )
        if not isinstance(self.serial, str) or not _SERIAL_SHAPE.fullmatch(self.serial):
            raise _format_error("serial", "证照顺序号应为1至30位数字或大写字母", self.serial)
        # bool is an int subclass; True as a version is a bug in the caller, not version 1.
        if (
            not isinstance(self.version, int)
            or isinstance(self.version, bool)
            or not MIN_VERSION <= self.version <= MAX_VERSION
        ):
            raise _format_error("version", "版本号应为1至999的整数", self.version)

    @property
    def payload(self) -> str:
        """The string the check character is computed over (no root, no dots)."""
        return f"{self.type_code}{self.issuer_code}{self.serial}{self.version:03d}"

    @property
    def check(self) -> str:
        """The MOD 37,36 check character."""
        return mod37_36_check(self.payload)

    def with_version(self, version: int) -> LicenseIdentifier:
        """The identifier of another version of the same licence (renew / amend)."""
        return dataclasses.replace(self, version=version)

    def __str__(self) -> str:
        return (
            f"{IDENTIFIER_ROOT}.{self.type_code}.{self.issuer_code}.{self.serial}"
            f".{self.version:03d}.{self.check}"
        )


def build_identifier(
    *, type_code: str, issuer_code: str, serial: str, version: int
) -> LicenseIdentifier:
    """Build an identifier from its parts; raises ``DomainError("identifier.format")``.

    The error's ``detail["field"]`` names the offending part.
    """
    return LicenseIdentifier(
        type_code=type_code, issuer_code=issuer_code, serial=serial, version=version
    )


def parse_identifier(text: str) -> LicenseIdentifier:
    """Parse the text form of an identifier, strictly.

    Nothing is normalised: no whitespace stripping and no case folding (identifiers are upper
    case; a lower-case one is refused, not corrected), so a parsed identifier prints back as
    exactly the text it came from. Callers that take user input strip it first.

    Raises ``DomainError`` with code ``identifier.format`` (wrong root, number of fields or
    field shape) or ``identifier.checksum`` (the check character does not match).
    """
    if not isinstance(text, str):
        raise _format_error("identifier", "证照标识应为字符串", text)
    root_prefix = IDENTIFIER_ROOT + "."
    if not text.startswith(root_prefix):
        raise _format_error("root", f"应以“{IDENTIFIER_ROOT}”开头", text)
    if text != text.upper():
        raise _format_error("identifier", "证照标识应使用大写字母", text)
    parts = text[len(root_prefix) :].split(".")
    if len(parts) != 5:
        raise _format_error(
            "identifier",
            "根编码之后应为证照类型代码、签发单位代码、顺序号、版本号和校验位五段",
            text,
        )
    type_code, issuer_code, serial, version_text, check = parts
    if not _VERSION_SHAPE.fullmatch(version_text):
        raise _format_error("version", "版本号应为3位数字", version_text)
    identifier = LicenseIdentifier(
        type_code=type_code, issuer_code=issuer_code, serial=serial, version=int(version_text)
    )
    if len(check) != 1 or check not in MOD37_36_ALPHABET:
        raise _format_error("check", "校验位应为1位数字或大写字母", check)
    expected = identifier.check
    if check != expected:
        raise DomainError(
            "identifier.checksum",
            "证照标识校验位错误",
            {"identifier": text, "check": check, "expected": expected},
        )
    return identifier
