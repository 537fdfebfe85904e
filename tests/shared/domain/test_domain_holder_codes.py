"""Holder codes: 公民身份号码 (GB 11643) and 统一社会信用代码 (GB 32100)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.cn import uscc as stdnum_uscc

from shared.domain.errors import DomainError
from shared.domain.holder_codes import (
    CODE_TYPES,
    HolderCode,
    validate_citizen_id,
    validate_holder_code,
    validate_uscc,
)

TODAY = date(2026, 1, 15)

# Written out here, independently of the implementation.
ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2]


def id_check(first17: str) -> str:
    return "10X98765432"[sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS)) % 11]


def org_check(body: str) -> str:
    value = 11 - sum(int(c, 36) * w for c, w in zip(body, ORG_WEIGHTS)) % 11
    return {10: "X", 11: "0"}.get(value, str(value))


def uscc_check(first17: str) -> str:
    return USCC_CHARS[
        (31 - sum(USCC_CHARS.index(c) * w for c, w in zip(first17, USCC_WEIGHTS)) % 31) % 31
    ]


def make_uscc(prefix: str, area: str, org_body: str) -> str:
    first17 = prefix + area + org_body + org_check(org_body)
    return first17 + uscc_check(first17)


def expect_error(code: str, func: object, *args: object, **kwargs: object) -> DomainError:
    with pytest.raises(DomainError) as excinfo:
        func(*args, **kwargs)  # type: ignore[operator]
    assert excinfo.value.code == code
    return excinfo.value


# --- 公民身份号码 --------------------------------------------------------------------------


def test_the_gb_11643_example_is_valid() -> None:
    result = validate_citizen_id("11010519491231002X", today=TODAY)

    assert result == HolderCode(
        code="11010519491231002X",
        code_type="111",
        warnings=(),
        birth_date=date(1949, 12, 31),
    )


def test_a_henan_number_is_valid() -> None:
    code = "41010219900307451" + id_check("41010219900307451")

    result = validate_citizen_id(code, today=TODAY)

    assert (result.code, result.birth_date, result.warnings) == (code, date(1990, 3, 7), ())


def test_spaces_are_removed_and_a_trailing_lower_case_x_upper_cased() -> None:
    result = validate_citizen_id(" 110105 19491231 002x ", today=TODAY)

    assert result.code == "11010519491231002X"


def test_a_15_digit_number_is_converted_to_18_with_a_warning() -> None:
    # given: the legacy form, area 410102, born 1980-01-01, sequence 123
    expected = "41010219800101123" + id_check("41010219800101123")

    # when
    result = validate_citizen_id("410102800101123", today=TODAY)

    # then
    assert result.code == expected
    assert result.birth_date == date(1980, 1, 1)
    assert result.warnings == (f"15位旧号码已转换为18位：{expected}",)


def test_an_unknown_area_in_a_known_province_is_accepted_without_warning() -> None:
    # 419999 is no real county; areas get abolished, people keep their numbers.
    code = "41999919900307451" + id_check("41999919900307451")

    result = validate_citizen_id(code, today=TODAY)

    assert (result.code, result.warnings) == (code, ())


def test_birth_date_today_is_accepted() -> None:
    first17 = "410102" + "20260115" + "001"

    result = validate_citizen_id(first17 + id_check(first17), today=TODAY)

    assert result.birth_date == TODAY


@pytest.mark.parametrize(
    ("code", "error_code"),
    [
        ("", "citizen_id.length"),
        ("4101021990030745", "citizen_id.length"),  # 16
        ("4101021990030745111", "citizen_id.length"),  # 19
        ("41010219900307451", "citizen_id.length"),  # 17
        ("4101021990A307451X", "citizen_id.format"),
        ("41010219900307451Y", "citizen_id.format"),
        ("X10102199003074511", "citizen_id.format"),
        ("41010280010112X", "citizen_id.format"),  # 15 digits may not end in X
        ("４10102199003074511", "citizen_id.format"),  # full-width digit
        ("99010219900307451" + id_check("99010219900307451"), "citizen_id.area"),
        ("00010219900307451" + id_check("00010219900307451"), "citizen_id.area"),
        ("16010219900307451" + id_check("16010219900307451"), "citizen_id.area"),
        ("41010219900230451" + id_check("41010219900230451"), "citizen_id.birth_date"),
        ("41010219901301451" + id_check("41010219901301451"), "citizen_id.birth_date"),
        ("41010200000101451" + id_check("41010200000101451"), "citizen_id.birth_date"),
        # GB 11643's own example: born 1880, before the 1900-01-01 floor.
        ("440524188001010014", "citizen_id.birth_date"),
        ("41010218991231451" + id_check("41010218991231451"), "citizen_id.birth_date"),
        ("41010220260116451" + id_check("41010220260116451"), "citizen_id.future_birth_date"),
        ("41010230000101451" + id_check("41010230000101451"), "citizen_id.future_birth_date"),
        ("11010519491231002" + "1", "citizen_id.checksum"),
        ("11010519491231003X", "citizen_id.checksum"),
    ],
)
def test_invalid_citizen_ids_raise_their_own_error_code(code: str, error_code: str) -> None:
    error = expect_error(error_code, validate_citizen_id, code, today=TODAY)

    assert error.message  # Chinese text for people


def test_checksum_error_message() -> None:
    error = expect_error(
        "citizen_id.checksum", validate_citizen_id, "110105194912310021", today=TODAY
    )

    assert error.message == "公民身份号码校验位错误"


def test_1900_01_01_is_the_earliest_birth_date() -> None:
    first17 = "41010219000101451"

    result = validate_citizen_id(first17 + id_check(first17), today=TODAY)

    assert result.birth_date == date(1900, 1, 1)


@settings(max_examples=200, deadline=None, database=None)
@given(
    province=st.sampled_from(["11", "41", "46", "65", "71", "81", "82", "83", "91"]),
    rest_of_area=st.text(alphabet="0123456789", min_size=4, max_size=4),
    birth=st.dates(min_value=date(1900, 1, 1), max_value=TODAY),
    sequence=st.text(alphabet="0123456789", min_size=3, max_size=3),
)
def test_generated_citizen_ids_validate_and_a_changed_check_does_not(
    province: str, rest_of_area: str, birth: date, sequence: str
) -> None:
    first17 = province + rest_of_area + birth.strftime("%Y%m%d") + sequence
    code = first17 + id_check(first17)

    assert validate_citizen_id(code, today=TODAY) == HolderCode(
        code=code, code_type="111", warnings=(), birth_date=birth
    )
    for wrong in "0123456789X":
        if wrong != code[-1]:
            expect_error("citizen_id.checksum", validate_citizen_id, first17 + wrong, today=TODAY)


# --- 统一社会信用代码 ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        "91350100M000100Y43",
        # The definer of the DESIGN type codes: it does pass both checks.
        "11100000000013338W",
        # Issuers of the DESIGN / FIELD-NOTES identifiers.
        "11430000006122244L",
        "11330105002500287C",
    ],
)
def test_known_usccs_are_valid(code: str) -> None:
    assert validate_uscc(code) == HolderCode(code=code, code_type="001", warnings=())
    assert stdnum_uscc.is_valid(code)


def test_uscc_is_upper_cased_and_spaces_removed() -> None:
    assert validate_uscc(" 91350100m000100y43 ").code == "91350100M000100Y43"


@settings(max_examples=200, deadline=None, database=None)
@given(
    department=st.sampled_from("123456789ANY"),
    category=st.sampled_from("1239"),
    area=st.text(alphabet="0123456789", min_size=6, max_size=6),
    org_body=st.text(alphabet=USCC_CHARS, min_size=8, max_size=8),
)
def test_generated_usccs_validate(department: str, category: str, area: str, org_body: str) -> None:
    code = make_uscc(department + category, area, org_body)

    assert validate_uscc(code) == HolderCode(code=code, code_type="001", warnings=())
    if department.isdigit():
        # python-stdnum insists on 8 leading digits, so it refuses the letter departments
        # (A 军队, N 农业, Y 其他) that GB 32100 assigns; cross-check the others only.
        assert stdnum_uscc.is_valid(code)


def test_letter_registration_departments_are_accepted() -> None:
    # 农村集体经济组织 (N) and 其他 (Y) codes: refused by python-stdnum, valid per GB 32100.
    for prefix in ("N2", "N3", "Y1", "A1"):
        code = make_uscc(prefix, "410102", "MA0000A1")
        assert validate_uscc(code).code == code
        assert not stdnum_uscc.is_valid(code)


def test_generated_uscc_with_org_check_x_and_0() -> None:
    # Organisation-code bodies whose check is 10 → "X" and 11 → "0".
    bodies = {org_check(f"{n:08d}"): f"{n:08d}" for n in range(200)}
    for check in ("X", "0"):
        code = make_uscc("91", "410100", bodies[check])
        assert code[16] == check
        assert validate_uscc(code).code == code


@pytest.mark.parametrize(
    ("code", "error_code", "position"),
    [
        ("91350100M000100Y4", "uscc.length", None),
        ("91350100M000100Y433", "uscc.length", None),
        ("", "uscc.length", None),
        ("91350100M000100I43", "uscc.charset", 16),  # I is not in the alphabet
        ("91350100O000100Y43", "uscc.charset", 9),
        ("91350100M000100Y4Z", "uscc.charset", 18),
        ("9135010-M000100Y43", "uscc.charset", 8),
        ("01350100M000100Y43", "uscc.charset", 1),  # 登记管理部门码 0
        ("9A350100M000100Y43", "uscc.charset", 2),  # 机构类别码 not a digit
        ("90350100M000100Y43", "uscc.charset", 2),  # 机构类别码 0
        ("913A0100M000100Y43", "uscc.charset", 4),  # area not digits
        ("91350100M000100YA3", "uscc.charset", 17),  # org-code check must be a digit or X
        ("91350100M000100Y53", "uscc.org_code_checksum", None),
        ("91350100M000200Y43", "uscc.org_code_checksum", None),
        ("91350100M000100Y44", "uscc.checksum", None),
        ("92350100M000100Y43", "uscc.checksum", None),
    ],
)
def test_invalid_usccs_raise_their_own_error_code(
    code: str, error_code: str, position: int | None
) -> None:
    error = expect_error(error_code, validate_uscc, code)

    if position is not None:
        assert error.detail["position"] == position


def test_uscc_checksum_message() -> None:
    error = expect_error("uscc.checksum", validate_uscc, "91350100M000100Y44")

    assert error.message == "统一社会信用代码校验位错误"


def test_legacy_turns_checksum_failures_into_warnings() -> None:
    # given: an early pilot code failing the final check
    result = validate_uscc("91350100M000100Y44", legacy=True)

    # then
    assert result.code == "91350100M000100Y44"
    assert result.warnings == ("统一社会信用代码校验位错误（存量数据，按早期试点代码保留）",)


def test_legacy_turns_both_checksum_failures_into_two_warnings() -> None:
    result = validate_uscc("91350100M000100Y53", legacy=True)

    assert result.warnings == (
        "统一社会信用代码中的组织机构代码校验码错误（存量数据，按早期试点代码保留）",
        "统一社会信用代码校验位错误（存量数据，按早期试点代码保留）",
    )


def test_legacy_does_not_excuse_length_or_charset() -> None:
    expect_error("uscc.length", validate_uscc, "91350100M000100Y4", legacy=True)
    expect_error("uscc.charset", validate_uscc, "91350100M000100I43", legacy=True)


# --- dispatch ------------------------------------------------------------------------------


def test_code_types_table() -> None:
    assert {
        "111": "居民身份证（公民身份号码）",
        "001": "统一社会信用代码",
        "414": "护照",
        "516": "港澳居民来往内地通行证",
        "511": "台湾居民来往大陆通行证",
        "099": "其他",
    }.items() <= CODE_TYPES.items()


def test_dispatch_to_citizen_id() -> None:
    result = validate_holder_code(" 11010519491231002x ", "111", today=TODAY)

    assert result == HolderCode(
        code="11010519491231002X", code_type="111", warnings=(), birth_date=date(1949, 12, 31)
    )


def test_dispatch_to_citizen_id_uses_today() -> None:
    first17 = "41010220260116451"

    expect_error(
        "citizen_id.future_birth_date",
        validate_holder_code,
        first17 + id_check(first17),
        "111",
        today=TODAY,
    )


def test_dispatch_to_uscc_with_and_without_legacy() -> None:
    assert validate_holder_code("91350100m000100y43", "001", today=TODAY) == HolderCode(
        code="91350100M000100Y43", code_type="001", warnings=()
    )
    expect_error("uscc.checksum", validate_holder_code, "91350100M000100Y44", "001", today=TODAY)
    assert validate_holder_code("91350100M000100Y44", "001", today=TODAY, legacy=True).warnings == (
        "统一社会信用代码校验位错误（存量数据，按早期试点代码保留）",
    )


@pytest.mark.parametrize("code_type", ["414", "516", "511", "099"])
def test_other_code_types_are_trimmed_and_kept(code_type: str) -> None:
    result = validate_holder_code("  E12345678 ", code_type, today=TODAY)

    assert result == HolderCode(code="E12345678", code_type=code_type, warnings=())


def test_other_code_types_keep_case_and_inner_characters() -> None:
    result = validate_holder_code("h-1234 5678", "516", today=TODAY)

    assert result.code == "h-1234 5678"


def test_other_code_types_accept_64_characters_and_refuse_65() -> None:
    assert validate_holder_code("A" * 64, "414", today=TODAY).code == "A" * 64
    error = expect_error("holder.code_length", validate_holder_code, "A" * 65, "414", today=TODAY)
    assert error.detail == {"length": 65, "max_length": 64}


def test_other_code_types_refuse_non_printable_characters() -> None:
    expect_error("holder.code_format", validate_holder_code, "E123\x00456", "414", today=TODAY)


@pytest.mark.parametrize("code_type", ["111", "001", "414", "099"])
@pytest.mark.parametrize("code", ["", "   ", "\u3000"])
def test_empty_codes_are_required(code: str, code_type: str) -> None:
    expect_error("holder.code_required", validate_holder_code, code, code_type, today=TODAY)


@pytest.mark.parametrize("code_type", ["", "112", "1", "999"])
def test_unknown_code_types_are_refused(code_type: str) -> None:
    error = expect_error(
        "holder.code_type", validate_holder_code, "E12345678", code_type, today=TODAY
    )

    assert error.message == "不支持的持证主体代码类型"
    assert error.detail["code_type"] == code_type
