"""Clean text (`shared.domain.text`), the licence date range (`shared.domain.dates`) and the
holder code type whitelist: pure functions, no database."""

from __future__ import annotations

import unicodedata
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.domain.dates import EARLIEST_DATE, LATEST_DATE, check_date
from shared.domain.errors import DomainError
from shared.domain.holder_codes import CODE_TYPES, check_code_type, validate_holder_code
from shared.domain.text import bad_characters, check_text, check_text_tree, is_blank

# --- clean text ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "郑州豫中食品有限公司",
        "Zhengzhou Foods Co., Ltd.",
        "阿卜杜拉·买买提",  # middle dot in transliterated names
        "预包装食品销售（含冷藏冷冻食品）　散装食品",  # ideographic space
        "José Müller-Lüdenscheidt",
        "e\u0301",  # a combining accent
        "\u0643\u200c\u0627",  # ZWNJ between two Arabic letters (Uyghur needs it)
        "葛\U000e0100",  # an ideographic variation selector (a mark, not a format character)
        "",
    ],
)
def test_clean_text_passes_unchanged(text: str) -> None:
    assert bad_characters(text) == []
    assert check_text(text, field="holder.name", label="持证主体名称") is text


@pytest.mark.parametrize(
    ("text", "codepoint", "kind"),
    [
        ("郑州\x07食品", "U+0007", "control"),
        ("郑州\x00食品", "U+0000", "control"),
        ("郑州\x7f食品", "U+007F", "control"),
        ("郑州\x85食品", "U+0085", "control"),  # C1 next line
        ("郑州\n食品", "U+000A", "control"),  # no line breaks in a one-line field
        ("郑州\u2028食品", "U+2028", "separator"),
        ("invoice\u202egnp.exe", "U+202E", "bidi"),  # right-to-left override
        ("郑州\u2066食品\u2069", "U+2066", "bidi"),
        ("郑州\u200f食品", "U+200F", "bidi"),
        ("郑州\u200b食品", "U+200B", "invisible"),  # zero-width space
        ("\ufeff郑州食品", "U+FEFF", "invisible"),
        ("郑州\u00ad食品", "U+00AD", "invisible"),  # soft hyphen
        ("郑州\u2060食品", "U+2060", "invisible"),
        ("\u200d郑州", "U+200D", "invisible"),  # a joiner not between two letters
        ("郑州\U000e0041", "U+E0041", "invisible"),  # a tag character
        ("郑州\ud800", "U+D800", "surrogate"),
        ("郑州\ufdd0", "U+FDD0", "noncharacter"),
        ("郑州\uffff", "U+FFFF", "noncharacter"),
    ],
)
def test_refused_characters_are_named(text: str, codepoint: str, kind: str) -> None:
    # when
    with pytest.raises(DomainError) as caught:
        check_text(text, field="holder.name", label="持证主体名称")
    # then
    error = caught.value
    assert error.code == "text.invalid_character"
    assert error.detail["field"] == "holder.name"
    assert error.detail["characters"][0]["codepoint"] == codepoint
    assert error.detail["characters"][0]["kind"] == kind
    assert error.message.startswith("持证主体名称含有不允许的字符：")
    assert codepoint in error.message


def test_multiline_text_keeps_line_breaks_and_tabs_only() -> None:
    assert check_text("第一行\n第二行\r\n\t缩进", field="reason", label="原因", multiline=True)
    assert check_text("段落\u2029段落", field="reason", label="原因", multiline=True)
    with pytest.raises(DomainError) as caught:
        check_text("原因\x1b[31m", field="reason", label="原因", multiline=True)
    assert caught.value.detail["characters"] == [
        {"position": 2, "codepoint": "U+001B", "kind": "control"}
    ]


def test_every_offending_character_is_in_detail_and_at_most_five_in_message() -> None:
    text = "".join(f"字{chr(0x200B)}" for _ in range(8))
    with pytest.raises(DomainError) as caught:
        check_text(text, field="number", label="证照编号")
    assert [c["position"] for c in caught.value.detail["characters"]] == list(range(1, 16, 2))
    assert caught.value.message.count("U+200B") == 5
    assert "等 8 个字符" in caught.value.message


@pytest.mark.parametrize(
    ("text", "blank"),
    [
        ("", True),
        ("   ", True),
        ("\u200b\u200c\u200d", True),  # zero-width only
        ("\u3000\u00a0\ufeff", True),
        ("\u202e", True),
        ("张", False),
        ("\u200b张", False),
    ],
)
def test_blank_means_nothing_visible(text: str, blank: bool) -> None:
    assert is_blank(text) is blank


def test_a_tree_is_checked_key_and_value_and_the_path_is_named() -> None:
    surface = {"经营项目": ["预包装食品", "散装\u202e食品"], "从业人数": 3}
    with pytest.raises(DomainError) as caught:
        check_text_tree(surface, field="surface", label="照面信息")
    assert caught.value.detail["field"] == "surface.经营项目[1]"
    assert caught.value.message.startswith("照面信息“经营项目[1]”含有不允许的字符")
    with pytest.raises(DomainError) as caught:
        check_text_tree({"经营\x07项目": "x"}, field="surface", label="照面信息")
    assert caught.value.detail["field"] == "surface.经营\x07项目"
    assert check_text_tree({"a": [1, None, True, {"b": "正常"}]}, field="s", label="s")


@given(st.text())
def test_clean_text_is_exactly_the_text_without_refused_characters(text: str) -> None:
    # An oracle written apart from the implementation, on the Unicode categories.
    def refused(i: int) -> bool:
        char, cat = text[i], unicodedata.category(text[i])
        if char in "\u200c\u200d":
            neighbours = 0 < i < len(text) - 1 and all(
                unicodedata.category(text[j])[0] in "LM" for j in (i - 1, i + 1)
            )
            return not neighbours
        code = ord(char)
        return (
            cat in ("Cc", "Cf", "Cs")
            or code in (0x2028, 0x2029)
            or 0xFDD0 <= code <= 0xFDEF
            or code & 0xFFFE == 0xFFFE
        )

    assert [b.position for b in bad_characters(text)] == [i for i in range(len(text)) if refused(i)]


# --- the date range --------------------------------------------------------------------------


@pytest.mark.parametrize("value", [EARLIEST_DATE, date(2026, 12, 4), LATEST_DATE])
def test_dates_in_range_pass(value: date) -> None:
    assert check_date(value, field="valid_from", label="有效期起始日期") == value


@pytest.mark.parametrize(
    "value", [date(1, 1, 1), date(1949, 9, 30), date(2200, 1, 1), date(9999, 12, 31)]
)
def test_dates_out_of_range_are_refused(value: date) -> None:
    with pytest.raises(DomainError) as caught:
        check_date(value, field="valid_from", label="有效期起始日期")
    assert caught.value.code == "date.out_of_range"
    assert caught.value.message == "有效期起始日期应在 1949-10-01 至 2199-12-31 之间"
    assert caught.value.detail == {
        "field": "valid_from",
        "value": value.isoformat(),
        "earliest": "1949-10-01",
        "latest": "2199-12-31",
    }


# --- holder code types: a whitelist ----------------------------------------------------------


@pytest.mark.parametrize("code_type", sorted(CODE_TYPES))
def test_listed_code_types_pass(code_type: str) -> None:
    assert check_code_type(code_type) == code_type


@pytest.mark.parametrize("code_type", ["999", "000", "11", "1111", "", " 111", None, 111])
def test_unlisted_code_types_are_refused(code_type: object) -> None:
    with pytest.raises(DomainError) as caught:
        check_code_type(code_type)
    assert caught.value.code == "holder.code_type"
    assert caught.value.message == "不支持的持证主体代码类型"
    assert caught.value.detail["supported"] == sorted(CODE_TYPES)
    with pytest.raises(DomainError):
        validate_holder_code("E12345678", str(code_type), today=date(2026, 1, 15))
