"""GB/T 36904 licence identifiers and type codes."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stdnum.iso7064 import mod_37_36

from shared.domain.errors import DomainError
from shared.domain.identifiers import (
    LicenseIdentifier,
    build_identifier,
    mod37_36_check,
    parse_identifier,
    validate_type_code,
)

DESIGN_EXAMPLE = "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U"
FIELD_NOTES_EXAMPLE = "1.2.156.3005.2.11100000000013338W009.11330105002500287C.2025052201.002.0"
ROOT_PREFIX = "1.2.156.3005.2."

ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"

uscc_shaped = st.text(alphabet=USCC_CHARS, min_size=18, max_size=18)
type_codes = st.builds(
    lambda head, tail: head + tail,
    uscc_shaped,
    st.text(alphabet="0123456789", min_size=3, max_size=3),
)
serials = st.text(alphabet=ALNUM, min_size=1, max_size=30)
versions = st.integers(min_value=1, max_value=999)

# Substitutes include lower case, separators, '*', space and non-ASCII look-alikes.
SUBSTITUTES = ALNUM + "abcxyz.*- ０Ｏ"

# database=None: no example database written into the working tree.
PROPERTY_SETTINGS = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _raises(code: str, text: str) -> DomainError:
    with pytest.raises(DomainError) as excinfo:
        parse_identifier(text)
    assert excinfo.value.code == code
    return excinfo.value


# --- the standard's examples ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "type_code", "issuer_code", "serial", "version", "check"),
    [
        (DESIGN_EXAMPLE, "11100000000013338W011", "11430000006122244L", "20230000403", 1, "U"),
        (FIELD_NOTES_EXAMPLE, "11100000000013338W009", "11330105002500287C", "2025052201", 2, "0"),
    ],
)
def test_real_identifiers_parse_into_their_parts(
    text: str, type_code: str, issuer_code: str, serial: str, version: int, check: str
) -> None:
    # when
    identifier = parse_identifier(text)

    # then
    assert identifier == LicenseIdentifier(
        type_code=type_code, issuer_code=issuer_code, serial=serial, version=version
    )
    assert identifier.check == check
    assert str(identifier) == text


def test_build_identifier_gives_the_design_example() -> None:
    identifier = build_identifier(
        type_code="11100000000013338W011",
        issuer_code="11430000006122244L",
        serial="20230000403",
        version=1,
    )

    assert str(identifier) == DESIGN_EXAMPLE


def test_with_version_keeps_the_other_parts_and_recomputes_the_check() -> None:
    # given
    first = parse_identifier(DESIGN_EXAMPLE)

    # when
    second = first.with_version(2)

    # then
    assert str(second) == (
        "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.002."
        + mod37_36_check("11100000000013338W01111430000006122244L20230000403002")
    )
    assert (second.type_code, second.issuer_code, second.serial, second.version) == (
        first.type_code,
        first.issuer_code,
        first.serial,
        2,
    )
    assert str(first) == DESIGN_EXAMPLE  # frozen: the original is untouched


@pytest.mark.parametrize("version", [0, 1000, -1])
def test_with_version_refuses_out_of_range_versions(version: int) -> None:
    with pytest.raises(DomainError) as excinfo:
        parse_identifier(DESIGN_EXAMPLE).with_version(version)

    assert excinfo.value.code == "identifier.format"
    assert excinfo.value.detail["field"] == "version"


def test_version_999_is_the_last_and_prints_with_three_digits() -> None:
    identifier = parse_identifier(DESIGN_EXAMPLE).with_version(999)

    assert str(identifier).split(".")[-2] == "999"
    assert parse_identifier(str(identifier)) == identifier


# --- MOD 37,36 -----------------------------------------------------------------------------


def test_mod37_36_check_of_known_payloads() -> None:
    assert mod37_36_check("11100000000013338W01111430000006122244L20230000403001") == "U"
    assert mod37_36_check("11100000000013338W00911330105002500287C2025052201002") == "0"
    # The example in python-stdnum's documentation of the algorithm.
    assert mod37_36_check("A12425GABC1234002") == "M"


@PROPERTY_SETTINGS
@given(st.text(alphabet=ALNUM, min_size=0, max_size=80))
def test_mod37_36_check_agrees_with_stdnum(payload: str) -> None:
    assert mod37_36_check(payload) == mod_37_36.calc_check_digit(payload)
    assert mod_37_36.checksum(payload + mod37_36_check(payload)) == 1


@pytest.mark.parametrize("payload", ["abc", "A-B", "A*B", "Ａ"])
def test_mod37_36_check_refuses_characters_outside_the_alphabet(payload: str) -> None:
    with pytest.raises(DomainError) as excinfo:
        mod37_36_check(payload)

    assert excinfo.value.code == "identifier.format"


# --- property: generated identifiers validate, single substitutions do not ------------------


@PROPERTY_SETTINGS
@given(type_code=type_codes, issuer_code=uscc_shaped, serial=serials, version=versions)
def test_identifiers_built_from_valid_parts_always_parse_back(
    type_code: str, issuer_code: str, serial: str, version: int
) -> None:
    # given
    identifier = build_identifier(
        type_code=type_code, issuer_code=issuer_code, serial=serial, version=version
    )
    text = str(identifier)

    # when
    parsed = parse_identifier(text)

    # then
    assert parsed == identifier
    assert str(parsed) == text
    assert text == (
        f"{ROOT_PREFIX}{type_code}.{issuer_code}.{serial}.{version:03d}."
        f"{mod_37_36.calc_check_digit(type_code + issuer_code + serial + f'{version:03d}')}"
    )


@PROPERTY_SETTINGS
@given(
    type_code=type_codes,
    issuer_code=uscc_shaped,
    serial=serials,
    version=versions,
    data=st.data(),
)
def test_any_single_character_substitution_is_refused(
    type_code: str, issuer_code: str, serial: str, version: int, data: st.DataObject
) -> None:
    # given: a valid identifier and one changed character after the root (fields, dots, check)
    text = str(
        build_identifier(
            type_code=type_code, issuer_code=issuer_code, serial=serial, version=version
        )
    )
    position = data.draw(st.integers(min_value=len(ROOT_PREFIX), max_value=len(text) - 1))
    replacement = data.draw(st.sampled_from(SUBSTITUTES).filter(lambda c: c != text[position]))
    altered = text[:position] + replacement + text[position + 1 :]

    # when / then
    with pytest.raises(DomainError) as excinfo:
        parse_identifier(altered)
    assert excinfo.value.code in {"identifier.format", "identifier.checksum"}


@pytest.mark.parametrize("example", [DESIGN_EXAMPLE, FIELD_NOTES_EXAMPLE])
def test_every_alphanumeric_substitution_in_the_examples_is_refused(example: str) -> None:
    # Exhaustive over the real examples: every position after the root, every alphanumeric.
    for position in range(len(ROOT_PREFIX), len(example)):
        for replacement in ALNUM:
            if replacement == example[position]:
                continue
            altered = example[:position] + replacement + example[position + 1 :]
            with pytest.raises(DomainError):
                parse_identifier(altered)


def test_a_changed_check_character_is_a_checksum_error() -> None:
    error = _raises("identifier.checksum", DESIGN_EXAMPLE[:-1] + "V")

    assert error.message == "证照标识校验位错误"
    assert str(error) == "证照标识校验位错误"
    assert error.detail == {"identifier": DESIGN_EXAMPLE[:-1] + "V", "check": "V", "expected": "U"}


def test_a_changed_serial_digit_is_a_checksum_error() -> None:
    altered = DESIGN_EXAMPLE.replace(".20230000403.", ".20230000404.")

    _raises("identifier.checksum", altered)


# --- format errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "field"),
    [
        pytest.param(DESIGN_EXAMPLE.lower(), "identifier", id="all-lower-case"),
        pytest.param(DESIGN_EXAMPLE.replace("W011", "w011"), "identifier", id="lower-case-letter"),
        pytest.param(DESIGN_EXAMPLE[:-1] + "u", "identifier", id="lower-case-check"),
        pytest.param(" " + DESIGN_EXAMPLE, "root", id="leading-space"),
        pytest.param(DESIGN_EXAMPLE + " ", "check", id="trailing-space"),
        pytest.param(DESIGN_EXAMPLE.replace("1.2.156.3005.2", "1.2.156.3005.1"), "root", id="root"),
        pytest.param(DESIGN_EXAMPLE[len(ROOT_PREFIX) :], "root", id="no-root"),
        pytest.param(DESIGN_EXAMPLE.replace(".001.", ".01."), "version", id="2-digit-version"),
        pytest.param(DESIGN_EXAMPLE.replace(".001.", ".0001."), "version", id="4-digit-version"),
        pytest.param(DESIGN_EXAMPLE.replace(".001.", ".000."), "version", id="version-zero"),
        pytest.param(DESIGN_EXAMPLE.replace(".001.U", ".001"), "identifier", id="no-check"),
        pytest.param(DESIGN_EXAMPLE.replace(".001.U", ".001.UU"), "check", id="2-char-check"),
        pytest.param(DESIGN_EXAMPLE.replace(".001.U", ".001.*"), "check", id="star-check"),
        pytest.param(DESIGN_EXAMPLE + ".U", "identifier", id="extra-field"),
        pytest.param(
            DESIGN_EXAMPLE.replace("W011.", "W01."),
            "type_code",
            id="20-char-type-code",
        ),
        pytest.param(
            DESIGN_EXAMPLE.replace("13338W011", "13338I011"), "type_code", id="type-code-letter-I"
        ),
        pytest.param(
            DESIGN_EXAMPLE.replace("W011.", "W01A."), "type_code", id="type-code-letter-sequence"
        ),
        pytest.param(
            DESIGN_EXAMPLE.replace("6122244L", "6122244"), "issuer_code", id="17-char-issuer"
        ),
        pytest.param(
            DESIGN_EXAMPLE.replace("6122244L", "6122244O"), "issuer_code", id="issuer-letter-O"
        ),
        pytest.param(DESIGN_EXAMPLE.replace(".20230000403.", ".."), "serial", id="empty-serial"),
        pytest.param(
            DESIGN_EXAMPLE.replace(".20230000403.", "." + "1" * 31 + "."), "serial", id="31-serial"
        ),
        pytest.param(
            DESIGN_EXAMPLE.replace(".20230000403.", ".2023-0403."), "serial", id="serial-dash"
        ),
        pytest.param("", "root", id="empty"),
    ],
)
def test_malformed_identifiers_are_format_errors(text: str, field: str) -> None:
    error = _raises("identifier.format", text)

    assert error.message.startswith("证照标识格式错误：")
    assert error.detail["field"] == field


def test_a_30_character_serial_is_accepted() -> None:
    identifier = build_identifier(
        type_code="11100000000013338W011",
        issuer_code="11430000006122244L",
        serial="Z" * 30,
        version=7,
    )

    assert parse_identifier(str(identifier)).serial == "Z" * 30


@pytest.mark.parametrize(
    ("parts", "field"),
    [
        ({"type_code": "11100000000013338W01"}, "type_code"),
        ({"type_code": "11100000000013338w011"}, "type_code"),
        ({"issuer_code": "11430000006122244l"}, "issuer_code"),
        ({"issuer_code": "1143000000612224"}, "issuer_code"),
        ({"serial": ""}, "serial"),
        ({"serial": "abc"}, "serial"),
        ({"serial": "1" * 31}, "serial"),
        ({"version": 0}, "version"),
        ({"version": 1000}, "version"),
        ({"version": True}, "version"),
        ({"version": "1"}, "version"),
    ],
)
def test_build_identifier_refuses_bad_parts(parts: dict[str, object], field: str) -> None:
    # given
    arguments: dict[str, object] = {
        "type_code": "11100000000013338W011",
        "issuer_code": "11430000006122244L",
        "serial": "20230000403",
        "version": 1,
    }
    arguments.update(parts)

    # when
    with pytest.raises(DomainError) as excinfo:
        build_identifier(**arguments)  # type: ignore[arg-type]

    # then
    assert excinfo.value.code == "identifier.format"
    assert excinfo.value.detail["field"] == field


# --- type codes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        "11100000000013338W011",
        "11100000000013338W009",
        # Shape only: an embedded code that fails the GB 32100 checksum is still accepted.
        "11100000000013338X011",
        "91350100M000100Y43999",
    ],
)
def test_validate_type_code_accepts_well_formed_codes(code: str) -> None:
    assert validate_type_code(code) == code


@pytest.mark.parametrize(
    "code",
    [
        "",
        "11100000000013338W01",  # 20 characters
        "11100000000013338W0111",  # 22 characters
        "11100000000013338W01A",  # sequence not all digits
        "11100000000013338w011",  # lower case is not silently accepted
        "1110000000001333IW011",  # I is not in the USCC alphabet
        "11100000000013338W 11",
        "１1100000000013338W011",  # full-width digit
    ],
)
def test_validate_type_code_refuses_malformed_codes(code: str) -> None:
    with pytest.raises(DomainError) as excinfo:
        validate_type_code(code)

    assert excinfo.value.code == "type_code.format"
    assert excinfo.value.detail == {"type_code": code}


def test_domain_error_contract() -> None:
    error = DomainError("identifier.checksum", "证照标识校验位错误")

    assert (error.code, error.message, error.detail, str(error)) == (
        "identifier.checksum",
        "证照标识校验位错误",
        {},
        "证照标识校验位错误",
    )
    assert DomainError("x", "y").detail is not DomainError("x", "y").detail
