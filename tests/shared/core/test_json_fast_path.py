"""The input guard reads plain JSON with orjson, and anything orjson would read otherwise than
the rule (NUL, lone surrogates, integers past 64 bits, overflowing floats) with the checked
decoder: the same data or the same refusal either way."""

import io
import json
from unittest import mock

import orjson
import pytest

from shared.core.api import parsers
from shared.core.api.parsers import InputRefused, guarded_json_loads

PLAIN = {
    "events": [
        {"seq": n, "payload": {"名称": "郑州豫中食品", "n": 1.5e-7, "big": 10**17 + n}}
        for n in range(50)
    ],
    "flag": True,
    "none": None,
}


def test_plain_json_is_read_by_orjson_to_the_same_data():
    raw = json.dumps(PLAIN, ensure_ascii=False).encode()
    with mock.patch.object(parsers.orjson, "loads", wraps=orjson.loads) as fast:
        assert guarded_json_loads(raw) == json.loads(raw) == PLAIN
    fast.assert_called_once()


@pytest.mark.parametrize(
    "text,code",
    [
        ('{"n": 9223372036854775808}', "request.number_out_of_range"),  # orjson: an integer
        ('{"n": 18446744073709551616}', "request.number_out_of_range"),  # orjson: a float
        ('{"n": -9223372036854775809}', "request.number_out_of_range"),
        ('{"n": 1e400}', "request.number_out_of_range"),
        (" 18446744073709551616", "request.number_out_of_range"),  # a bare number
        ('{"n": NaN}', "request.malformed"),
        ('{"s": "\\u0000"}', "request.nul_character"),
        ('{"s": "\\ud800"}', "request.invalid_unicode"),
        ('{"s": ', "request.malformed"),
    ],
)
def test_what_the_rule_refuses_is_refused_on_either_path(text, code):
    with pytest.raises(InputRefused) as caught:
        guarded_json_loads(text.encode())
    assert caught.value.code == code


@pytest.mark.parametrize(
    "raw",
    [
        b'{"s": "\xff"}',  # not UTF-8
        b'{"s": "\xed\xa0\x80"}',  # a surrogate written as UTF-8 bytes
        b'{"s": "\xc3"}',  # cut inside a character
    ],
)
def test_bytes_that_are_not_utf8_are_refused_though_orjson_is_tried_first(raw):
    """UTF-8 bodies are no longer decoded before orjson reads them (it checks UTF-8 itself);
    what it refuses is decoded on the checked path, which says what is wrong."""
    with mock.patch.object(parsers.orjson, "loads", wraps=orjson.loads) as loads:
        with pytest.raises(InputRefused) as caught:
            guarded_json_loads(raw)
    assert loads.called
    assert caught.value.code == "request.invalid_unicode"


@pytest.mark.parametrize(
    "raw,fast",
    [
        # a run of 19 digits or more inside a string (a hex digest, an id): orjson
        (b'{"id": "41010020261205000000001", "d": "ab1234567890123456789012cd"}', True),
        # as a number, after ":", "[" or ",", whitespace or a minus sign between: checked
        (b'{"id": "x", "n": 9223372036854775807}', False),
        (b'{"n": [1, -1234567890123456789]}', False),
        (b'{"n": [\n  1234567890123456789]}', False),
        (b"[1,\t1234567890123456789]", False),
        # inside a string after one of those characters: cannot be told apart, checked
        (b'{"s": "a:1234567890123456789"}', False),
        # 18 digits: orjson, whatever comes before
        (b'{"n": 123456789012345678}', True),
    ],
)
def test_long_digits_take_the_checked_path_only_where_they_may_be_a_number(raw, fast):
    with mock.patch.object(parsers.orjson, "loads", wraps=orjson.loads) as loads:
        assert guarded_json_loads(raw) == json.loads(raw)
    assert loads.called is fast


# --- the exchange endpoint's parser ---------------------------------------------------------


def envelope_parse(raw: bytes):
    return parsers.EnvelopeParser().parse(io.BytesIO(raw), "application/json", {})


def test_a_version_2_envelope_is_read_at_once_and_anything_else_takes_the_guard():
    wrapper = {"v": 2, "alg": "SM2-SM3", "kid": "k1", "sig": "c2ln", "signed": "e30=" * 1000}
    with mock.patch.object(parsers, "guarded_json_loads", wraps=guarded_json_loads) as guard:
        assert envelope_parse(orjson.dumps(wrapper)) == wrapper
        guard.assert_not_called()
        # a version 1 envelope's body is JSON here: the whole guard reads it
        old = {"alg": "SM2-SM3", "kid": "k1", "sig": "c2ln", "body": {"events": []}}
        assert envelope_parse(orjson.dumps(old)) == old
        assert guard.call_count == 1
    for raw, code in (
        (b'{"v": 2, "kid": "k\\u0000", "signed": "e30="}', "request.nul_character"),
        (b'{"v": 2, "signed": ' + b"[" * 100 + b"]" * 100 + b"}", "request.too_deep"),
        (b'{"v": 2, "signed": "e30=",', "request.malformed"),
    ):
        with pytest.raises(InputRefused) as caught:
            envelope_parse(raw)
        assert caught.value.code == code
