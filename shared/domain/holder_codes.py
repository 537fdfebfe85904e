"""Holder codes (持证主体代码): 公民身份号码 (GB 11643) and 统一社会信用代码 (GB 32100).

Other code types (passports, travel permits, …) are data, not code: they are stored as given,
only trimmed and bounded. The code *types* are a whitelist (``CODE_TYPES``): any other type is
refused (``check_code_type``), at issuing and in a share query alike. Every validator returns a normalised ``HolderCode`` or raises
``DomainError``; doubts that must not block the user (an early pilot USCC, a converted 15-digit
number) come back as Chinese ``warnings`` for the caller to show or log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from shared.domain.errors import DomainError

CODE_TYPE_CITIZEN_ID = "111"
CODE_TYPE_USCC = "001"

CODE_TYPES: dict[str, str] = {
    CODE_TYPE_CITIZEN_ID: "居民身份证（公民身份号码）",
    CODE_TYPE_USCC: "统一社会信用代码",
    "414": "护照",
    "516": "港澳居民来往内地通行证",
    "511": "台湾居民来往大陆通行证",
    "099": "其他",
}

MAX_OTHER_CODE_LENGTH = 64


@dataclass(frozen=True, slots=True, kw_only=True)
class HolderCode:
    """A validated, normalised holder code.

    ``code`` is what to store and compare (spaces removed, upper case where the standard says
    so, 15-digit citizen numbers converted to 18). ``birth_date`` is set for citizen IDs only.
    """

    code: str
    code_type: str
    warnings: tuple[str, ...] = ()
    birth_date: date | None = None


# --- 公民身份号码 (GB 11643-1999) -----------------------------------------------------------

# The first two digits of the address code: provinces, autonomous regions and municipalities
# (GB/T 2260), Taiwan (71), Hong Kong / Macao (81, 82), the residence permits for Taiwan
# residents (83) and foreigners' permanent residence numbers (91).
_PROVINCE_PREFIXES = frozenset(
    [f"{n}" for n in range(11, 16)]
    + [f"{n}" for n in range(21, 24)]
    + [f"{n}" for n in range(31, 38)]
    + [f"{n}" for n in range(41, 47)]
    + [f"{n}" for n in range(50, 55)]
    + [f"{n}" for n in range(61, 66)]
    + ["71", "81", "82", "83", "91"]
)
_CITIZEN_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CITIZEN_ID_CHECKS = "10X98765432"  # indexed by (weighted sum mod 11)
_CITIZEN_ID_18 = re.compile(r"[0-9]{17}[0-9X]")
_CITIZEN_ID_15 = re.compile(r"[0-9]{15}")
_EARLIEST_BIRTH_DATE = date(1900, 1, 1)
_WHITESPACE = re.compile(r"\s+")


def citizen_id_check(first17: str) -> str:
    """The GB 11643 MOD 11-2 check character for the first 17 digits."""
    total = sum(
        int(digit) * weight for digit, weight in zip(first17, _CITIZEN_ID_WEIGHTS, strict=True)
    )
    return _CITIZEN_ID_CHECKS[total % 11]


def _citizen_birth_date(candidate: str, *, today: date) -> date:
    """The birth date an 18-character number carries: a real date, 1900-01-01 to `today`."""
    birth_text = candidate[6:14]
    try:
        birth_date = date(int(birth_text[:4]), int(birth_text[4:6]), int(birth_text[6:8]))
    except ValueError:
        raise DomainError(
            "citizen_id.birth_date",
            f"公民身份号码中的出生日期“{birth_text}”不是有效日期",
            {"birth_date": birth_text},
        ) from None
    if birth_date < _EARLIEST_BIRTH_DATE:
        raise DomainError(
            "citizen_id.birth_date",
            f"公民身份号码中的出生日期“{birth_text}”早于1900年1月1日",
            {"birth_date": birth_date.isoformat()},
        )
    if birth_date > today:
        raise DomainError(
            "citizen_id.future_birth_date",
            f"公民身份号码中的出生日期“{birth_text}”晚于今天",
            {"birth_date": birth_date.isoformat(), "today": today.isoformat()},
        )
    return birth_date


def validate_citizen_id(code: str, *, today: date) -> HolderCode:
    """Validate a 公民身份号码 (GB 11643) and return it normalised to 18 characters.

    Whitespace is removed and a trailing lower-case ``x`` upper-cased. A 15-digit number (the
    pre-1999 form) is converted: ``19`` is inserted before its 2-digit birth year and the check
    digit computed; a warning says so, since the stored code differs from what was typed.
    ``today`` is passed in (not read from the clock) so that the rule is testable and the
    caller decides the time zone.

    Raises ``DomainError`` with one of the codes ``citizen_id.length``, ``citizen_id.format``,
    ``citizen_id.area`` (unknown province), ``citizen_id.birth_date`` (not a real date, or
    before 1900-01-01), ``citizen_id.future_birth_date`` or ``citizen_id.checksum``.
    An unknown full 6-digit area code is not an error: areas are abolished and renamed, and
    people keep their numbers (python-stdnum's ``cn.ric`` gets this wrong).
    """
    normalised = _WHITESPACE.sub("", code)
    if normalised.endswith("x"):
        normalised = normalised[:-1] + "X"
    warnings: list[str] = []

    if len(normalised) not in (15, 18):
        raise DomainError(
            "citizen_id.length",
            "公民身份号码应为18位（或15位旧号码）",
            {"length": len(normalised)},
        )
    if len(normalised) == 15:
        if not _CITIZEN_ID_15.fullmatch(normalised):
            raise DomainError("citizen_id.format", "15位公民身份号码应全部为数字", {})
        first17 = normalised[:6] + "19" + normalised[6:]
        candidate = first17 + citizen_id_check(first17)
        warnings.append(f"15位旧号码已转换为18位：{candidate}")
    else:
        if not _CITIZEN_ID_18.fullmatch(normalised):
            raise DomainError(
                "citizen_id.format", "公民身份号码前17位应为数字，末位应为数字或X", {}
            )
        candidate = normalised

    if candidate[:2] not in _PROVINCE_PREFIXES:
        raise DomainError(
            "citizen_id.area",
            f"公民身份号码的行政区划代码错误：“{candidate[:2]}”不是有效的省级代码",
            {"area_code": candidate[:6]},
        )

    birth_date = _citizen_birth_date(candidate, today=today)

    expected = citizen_id_check(candidate[:17])
    if candidate[17] != expected:
        raise DomainError("citizen_id.checksum", "公民身份号码校验位错误", {})

    return HolderCode(
        code=candidate,
        code_type=CODE_TYPE_CITIZEN_ID,
        warnings=tuple(warnings),
        birth_date=birth_date,
    )


# --- 统一社会信用代码 (GB 32100-2015) --------------------------------------------------------

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUES = {char: value for value, char in enumerate(USCC_ALPHABET)}
_USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
# GB 11714 organisation code (positions 9–17): 8 body characters valued 0-9, A=10 … Z=35.
_ORG_CODE_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def _org_code_value(char: str) -> int:
    return int(char, 36)


def uscc_check(first17: str) -> str:
    """The GB 32100 check character for the first 17 characters of a USCC."""
    total = sum(
        _USCC_VALUES[char] * weight for char, weight in zip(first17, _USCC_WEIGHTS, strict=True)
    )
    return USCC_ALPHABET[(31 - total % 31) % 31]


def org_code_check(body: str) -> str:
    """The GB 11714 check character for the 8-character body of an organisation code."""
    total = sum(
        _org_code_value(char) * weight for char, weight in zip(body, _ORG_CODE_WEIGHTS, strict=True)
    )
    check = 11 - total % 11
    if check == 10:
        return "X"
    if check == 11:
        return "0"
    return str(check)


def _uscc_charset_error(position: int, char: str, rule: str) -> DomainError:
    return DomainError(
        "uscc.charset",
        f"统一社会信用代码第{position}位“{char}”不符合要求：{rule}",
        {"position": position, "character": char},
    )


def validate_uscc(code: str, *, legacy: bool = False) -> HolderCode:
    """Validate a 统一社会信用代码 (GB 32100) and return it normalised (upper case).

    Checks, in order: 18 characters (``uscc.length``); every character from the 31-character
    alphabet, position 1 (登记管理部门码) not ``0``, position 2 (机构类别码) a digit 1–9,
    positions 3–8 (area) digits and position 17 a digit or ``X`` (all ``uscc.charset``, with the
    position in ``detail``); the embedded GB 11714 organisation code check at position 17
    (``uscc.org_code_checksum``); the mod 31 check at position 18 (``uscc.checksum``).

    With ``legacy=True`` the two checksum failures become warnings: early pilot codes that fail
    them are legal and appear in imported legacy data; new entries are checked strictly.
    """
    normalised = _WHITESPACE.sub("", code).upper()
    if len(normalised) != 18:
        raise DomainError("uscc.length", "统一社会信用代码应为18位", {"length": len(normalised)})
    for position, char in enumerate(normalised, start=1):
        if char not in _USCC_VALUES:
            raise _uscc_charset_error(position, char, "只能使用数字和除I、O、S、V、Z以外的大写字母")
    if normalised[0] == "0":
        raise _uscc_charset_error(1, normalised[0], "登记管理部门码不能为0")
    if normalised[1] not in "123456789":
        raise _uscc_charset_error(2, normalised[1], "机构类别码应为数字1至9")
    for position in range(3, 9):
        if not normalised[position - 1].isdigit():
            raise _uscc_charset_error(
                position, normalised[position - 1], "登记管理机关行政区划码应为数字"
            )
    if normalised[16] not in "0123456789X":
        raise _uscc_charset_error(17, normalised[16], "组织机构代码校验码应为数字或X")

    warnings: list[str] = []
    if org_code_check(normalised[8:16]) != normalised[16]:
        message = "统一社会信用代码中的组织机构代码校验码错误"
        if not legacy:
            raise DomainError("uscc.org_code_checksum", message, {"org_code": normalised[8:17]})
        warnings.append(message + "（存量数据，按早期试点代码保留）")
    if uscc_check(normalised[:17]) != normalised[17]:
        message = "统一社会信用代码校验位错误"
        if not legacy:
            raise DomainError("uscc.checksum", message, {})
        warnings.append(message + "（存量数据，按早期试点代码保留）")

    return HolderCode(code=normalised, code_type=CODE_TYPE_USCC, warnings=tuple(warnings))


# --- dispatch ------------------------------------------------------------------------------


def check_code_type(code_type: object) -> str:
    """``code_type`` if it is one of ``CODE_TYPES`` (the whitelist: a type not listed there is
    refused everywhere a holder is named, not stored as given), else ``holder.code_type``."""
    if not isinstance(code_type, str) or code_type not in CODE_TYPES:
        raise DomainError(
            "holder.code_type",
            "不支持的持证主体代码类型",
            {"code_type": str(code_type)[:16], "supported": sorted(CODE_TYPES)},
        )
    return code_type


def validate_holder_code(
    code: str, code_type: str, *, today: date, legacy: bool = False
) -> HolderCode:
    """Validate a holder code of the given type (a key of ``CODE_TYPES``).

    ``111`` → ``validate_citizen_id``; ``001`` → ``validate_uscc`` (``legacy`` applies to it
    only); any other known type → trimmed, at most 64 printable characters, otherwise as given.

    Raises ``DomainError``: ``holder.code_type`` (unknown type), ``holder.code_required``
    (empty), ``holder.code_length`` / ``holder.code_format`` (other types: too long / not
    printable), or the error of the type's own validator.
    """
    check_code_type(code_type)
    stripped = code.strip() if isinstance(code, str) else ""
    if not stripped:
        raise DomainError("holder.code_required", "请填写持证主体代码", {"code_type": code_type})
    if code_type == CODE_TYPE_CITIZEN_ID:
        return validate_citizen_id(stripped, today=today)
    if code_type == CODE_TYPE_USCC:
        return validate_uscc(stripped, legacy=legacy)
    if len(stripped) > MAX_OTHER_CODE_LENGTH:
        raise DomainError(
            "holder.code_length",
            f"持证主体代码不能超过{MAX_OTHER_CODE_LENGTH}个字符",
            {"length": len(stripped), "max_length": MAX_OTHER_CODE_LENGTH},
        )
    if not stripped.isprintable():
        raise DomainError("holder.code_format", "持证主体代码含有不可打印字符", {})
    return HolderCode(code=stripped, code_type=code_type)
