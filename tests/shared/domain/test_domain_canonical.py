"""Canonical JSON and SM3 digests."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.domain.canonical import (
    canonical_json,
    canonical_json_of_data,
    license_version_digest,
    sm3_hex,
)

BEIJING = timezone(timedelta(hours=8))


def test_keys_are_sorted_without_whitespace_and_chinese_kept_as_utf8() -> None:
    value = {"b": 1, "a": [1, 2, {"d": None, "c": True}], "名称": "河南省"}

    assert canonical_json(value) == '{"a":[1,2,{"c":true,"d":null}],"b":1,"名称":"河南省"}'.encode()


def test_dict_order_does_not_matter() -> None:
    assert canonical_json({"x": 1, "y": {"b": 2, "a": 1}}) == canonical_json(
        {"y": {"a": 1, "b": 2}, "x": 1}
    )


def test_dates_and_aware_datetimes_become_iso_8601_in_utc() -> None:
    value = {
        "issued_on": date(2026, 1, 9),
        "completed_at": datetime(2026, 1, 9, 17, 30, tzinfo=BEIJING),
        "utc": datetime(2026, 1, 9, 9, 30, 0, 123456, tzinfo=UTC),
    }

    assert canonical_json(value) == (
        b'{"completed_at":"2026-01-09T09:30:00Z","issued_on":"2026-01-09",'
        b'"utc":"2026-01-09T09:30:00.123456Z"}'
    )


def test_the_same_instant_in_two_time_zones_has_one_form() -> None:
    beijing = datetime(2026, 1, 1, 8, 0, tzinfo=BEIJING)
    utc = datetime(2026, 1, 1, 0, 0, tzinfo=UTC)

    assert canonical_json([beijing]) == canonical_json([utc]) == b'["2026-01-01T00:00:00Z"]'


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        canonical_json({"at": datetime(2026, 1, 1, 8, 0)})


def test_decimals_become_strings_keeping_their_scale() -> None:
    assert canonical_json({"fee": Decimal("1.10"), "n": Decimal("3")}) == b'{"fee":"1.10","n":"3"}'


def test_tuples_become_lists() -> None:
    assert canonical_json({"t": (1, "a", (2,))}) == b'{"t":[1,"a",[2]]}'


def test_str_enums_are_their_values() -> None:
    class Colour(StrEnum):
        red = "red"

    assert canonical_json({"c": Colour.red}) == b'{"c":"red"}'


def test_numbers_and_escapes() -> None:
    assert canonical_json([0, -1, 1.5, 10**20, 'a"b\\c\n', False]) == (
        b'[0,-1,1.5,100000000000000000000,"a\\"b\\\\c\\n",false]'
    )


@pytest.mark.parametrize("value", [{1, 2}, frozenset({1}), {"s": {1}}, [object()], b"bytes"])
def test_unsupported_types_are_refused(value: object) -> None:
    with pytest.raises(TypeError):
        canonical_json(value)


def test_non_string_keys_are_refused() -> None:
    # {1: …, "1": …} would otherwise serialise to two identical keys.
    with pytest.raises(TypeError):
        canonical_json({1: "a", "1": "b"})


@pytest.mark.parametrize(
    "value",
    [
        float("nan"),
        float("inf"),
        float("-inf"),
        Decimal("NaN"),
        Decimal("Infinity"),
        [float("nan")],
    ],
)
def test_nan_and_infinity_are_refused(value: object) -> None:
    with pytest.raises(ValueError):
        canonical_json(value)


def test_sm3_gb_t_32905_vectors() -> None:
    assert sm3_hex(b"abc") == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    assert sm3_hex(b"abcd" * 16) == (
        "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
    )


def test_license_version_digest_is_sm3_of_the_canonical_form() -> None:
    payload = {"version": 1, "holder_name": "张三", "issued_on": date(2026, 1, 9)}

    digest = license_version_digest(payload)

    assert digest == sm3_hex('{"holder_name":"张三","issued_on":"2026-01-09","version":1}'.encode())
    assert len(digest) == 64
    assert digest == license_version_digest(dict(reversed(list(payload.items()))))
    assert digest != license_version_digest({**payload, "version": 2})


JSON_DATA = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=40,
)


@given(JSON_DATA)
def test_the_fast_form_of_json_data_is_byte_for_byte_the_canonical_form(value: object) -> None:
    assert canonical_json_of_data(value) == canonical_json(value)
    # and so is that of the same data after a trip through JSON text (what a receiver parses)
    reparsed = json.loads(json.dumps(value, ensure_ascii=False))
    assert canonical_json_of_data(reparsed) == canonical_json(value)


def test_the_fast_form_still_gives_dates_their_form_and_refuses_what_json_cannot_say() -> None:
    value = {
        "d": date(2026, 1, 9),
        "t": datetime(2026, 1, 9, 8, 0, tzinfo=BEIJING),
        "n": Decimal("1.10"),
    }
    assert canonical_json_of_data(value) == canonical_json(value)
    with pytest.raises(TypeError):
        canonical_json_of_data({"s": {1, 2}})
    with pytest.raises(ValueError):
        canonical_json_of_data({"x": float("nan")})
