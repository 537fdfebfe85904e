"""Tests for ``shared.crypto.tokens``: round trips, every refusal code, and fuzzing."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.crypto.suites import get_suite
from shared.crypto.tokens import (
    TOKEN_ALGORITHMS,
    TokenError,
    VerifiedToken,
    read_token_header,
    sign_token,
    verify_token,
)

GM = get_suite("gm")
INTL = get_suite("intl")
BOTH = pytest.mark.parametrize("suite", [GM, INTL], ids=["gm", "intl"])

NOW = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
CLAIMS = {
    "id": "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U",
    "v": 1,
    "iss": "410100",
    "iat": int(NOW.timestamp()),
    "exp": int((NOW + timedelta(days=30)).timestamp()),
    "name": "营业执照",
}
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")

# Keys are slow enough to share: one per suite, plus a second for "same kid, other key".
KEYS = {suite.name: suite.generate_key() for suite in (GM, INTL)}
OTHER_KEYS = {suite.name: suite.generate_key() for suite in (GM, INTL)}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _resolver(suite, kid="k1", key=None):
    """A registry holding exactly one public key, recording every lookup."""
    public = suite.public_key_of(key if key is not None else KEYS[suite.name])
    calls = []

    def resolve(alg, wanted_kid):
        calls.append((alg, wanted_kid))
        return public if wanted_kid == kid else None

    resolve.calls = calls
    return resolve


def _sign_raw(suite, key, header: dict, payload: bytes) -> str:
    """A token with an arbitrary header and payload, correctly signed by ``key``."""
    head = _b64(json.dumps(header, separators=(",", ":"), sort_keys=True).encode())
    body = _b64(payload)
    r, s = decode_dss_signature(suite.sign(key, f"{head}.{body}".encode()))
    return f"{head}.{body}.{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def _code(token, resolve, now=NOW) -> str:
    with pytest.raises(TokenError) as caught:
        verify_token(token, resolve_key=resolve, now=now)
    return caught.value.code


# --- round trips -----------------------------------------------------------------------------


@BOTH
def test_round_trip(suite):
    # given
    resolve = _resolver(suite)
    # when
    token = sign_token(suite=suite, key=KEYS[suite.name], kid="k1", claims=CLAIMS)
    verified = verify_token(token, resolve_key=resolve, now=NOW)
    # then
    assert TOKEN_SHAPE.fullmatch(token)
    assert verified == VerifiedToken(kid="k1", alg=suite.token_alg, claims=CLAIMS)
    assert resolve.calls == [(suite.token_alg, "k1")]


@BOTH
def test_header_and_payload_are_canonical_json(suite):
    # when
    token = sign_token(suite=suite, key=KEYS[suite.name], kid="k1", claims={"b": 1, "a": "证"})
    header, payload, signature = token.split(".")
    # then
    assert _unb64(header) == f'{{"alg":"{suite.token_alg}","kid":"k1"}}'.encode()
    assert _unb64(payload) == '{"a":"证","b":1}'.encode()
    assert len(_unb64(signature)) == 64
    assert read_token_header(token) == {"alg": suite.token_alg, "kid": "k1"}


def test_token_algorithms_map_to_suites():
    assert dict(TOKEN_ALGORITHMS) == {"SM2-SM3": "gm", "ES256": "intl"}


def test_es256_token_is_a_standard_jws():
    # given
    key = KEYS["intl"]
    token = sign_token(suite=INTL, key=key, kid="k1", claims=CLAIMS)
    header, payload, signature = token.split(".")
    raw = _unb64(signature)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    # when / then: RFC 7515 signing input, verified by cryptography directly
    key.public_key().verify(der, f"{header}.{payload}".encode(), ec.ECDSA(hashes.SHA256()))


def test_sm2_token_signature_is_sm2_over_the_signing_input():
    token = sign_token(suite=GM, key=KEYS["gm"], kid="k1", claims=CLAIMS)
    header, payload, signature = token.split(".")
    raw = _unb64(signature)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    assert GM.verify(GM.public_key_of(KEYS["gm"]), der, f"{header}.{payload}".encode()) is True


@BOTH
def test_time_claims_are_optional_and_ignored_without_now(suite):
    claims = {"id": "x", "exp": 1}  # long expired
    token = sign_token(suite=suite, key=KEYS[suite.name], kid="k1", claims=claims)
    assert verify_token(token, resolve_key=_resolver(suite)).claims == claims
    plain = sign_token(suite=suite, key=KEYS[suite.name], kid="k1", claims={"id": "x"})
    assert verify_token(plain, resolve_key=_resolver(suite), now=NOW).claims == {"id": "x"}


# --- refusals --------------------------------------------------------------------------------


@BOTH
def test_tampered_payload_is_bad_signature(suite):
    # given
    token = sign_token(suite=suite, key=KEYS[suite.name], kid="k1", claims=CLAIMS)
    header, _, signature = token.split(".")
    forged = _b64(json.dumps({**CLAIMS, "iss": "410200"}, sort_keys=True).encode())
    # when / then
    assert _code(f"{header}.{forged}.{signature}", _resolver(suite)) == "token.bad_signature"


@BOTH
def test_tampered_kid_is_bad_signature(suite):
    # given: the registry knows k2 as the same key, but the signature covers the header
    token = sign_token(suite=suite, key=KEYS[suite.name], kid="k1", claims=CLAIMS)
    _, payload, signature = token.split(".")
    header = _b64(f'{{"alg":"{suite.token_alg}","kid":"k2"}}'.encode())
    # when / then
    assert _code(f"{header}.{payload}.{signature}", _resolver(suite, kid="k2")) == (
        "token.bad_signature"
    )


@BOTH
def test_signed_by_another_key_under_the_same_kid_is_bad_signature(suite):
    token = sign_token(suite=suite, key=OTHER_KEYS[suite.name], kid="k1", claims=CLAIMS)
    assert _code(token, _resolver(suite)) == "token.bad_signature"


@BOTH
def test_flipped_signature_bit_is_bad_signature(suite):
    token = sign_token(suite=suite, key=KEYS[suite.name], kid="k1", claims=CLAIMS)
    header, payload, signature = token.split(".")
    raw = bytearray(_unb64(signature))
    raw[10] ^= 0x01
    assert _code(f"{header}.{payload}.{_b64(bytes(raw))}", _resolver(suite)) == (
        "token.bad_signature"
    )


@BOTH
def test_zero_signature_is_bad_signature(suite):
    token = sign_token(suite=suite, key=KEYS[suite.name], kid="k1", claims=CLAIMS)
    header, payload, _ = token.split(".")
    assert _code(f"{header}.{payload}.{_b64(bytes(64))}", _resolver(suite)) == (
        "token.bad_signature"
    )


@BOTH
def test_unknown_kid_is_unknown_key(suite):
    # given
    token = sign_token(suite=suite, key=KEYS[suite.name], kid="retired", claims=CLAIMS)
    resolve = _resolver(suite, kid="k1")
    # when
    with pytest.raises(TokenError) as caught:
        verify_token(token, resolve_key=resolve, now=NOW)
    # then
    assert caught.value.code == "token.unknown_key"
    assert caught.value.message == "无法识别令牌的签名密钥"
    assert resolve.calls == [(suite.token_alg, "retired")]


def test_es256_header_with_an_sm2_key_is_refused():
    # given: a token that claims ES256 but is signed with SM2, and a registry returning SM2 keys
    token = _sign_raw(GM, KEYS["gm"], {"alg": "ES256", "kid": "k1"}, b'{"id":"x"}')
    resolve = _resolver(GM)
    # when
    with pytest.raises(TokenError) as caught:
        verify_token(token, resolve_key=resolve, now=NOW)
    # then
    assert caught.value.code == "token.unknown_key"
    assert caught.value.message == "令牌声明的签名算法与该密钥不符"
    assert resolve.calls == [("ES256", "k1")]


def test_sm2_header_with_a_p256_key_is_refused():
    token = _sign_raw(INTL, KEYS["intl"], {"alg": "SM2-SM3", "kid": "k1"}, b'{"id":"x"}')
    assert _code(token, _resolver(INTL)) == "token.unknown_key"


@BOTH
def test_expired(suite):
    # given
    exp = int(NOW.timestamp())
    token = sign_token(suite=suite, key=KEYS[suite.name], kid="k1", claims={"exp": exp})
    resolve = _resolver(suite)
    # when / then: valid up to the second before exp, expired from exp on
    assert verify_token(token, resolve_key=resolve, now=NOW - timedelta(seconds=1))
    assert _code(token, resolve, now=NOW) == "token.expired"
    assert _code(token, resolve, now=NOW + timedelta(days=1)) == "token.expired"


@BOTH
def test_not_yet_valid(suite):
    nbf = NOW.timestamp() + 0.5
    token = sign_token(suite=suite, key=KEYS[suite.name], kid="k1", claims={"nbf": nbf})
    resolve = _resolver(suite)
    assert _code(token, resolve, now=NOW) == "token.not_yet_valid"
    assert verify_token(token, resolve_key=resolve, now=NOW + timedelta(seconds=1))


def test_expiry_is_compared_in_absolute_time_whatever_the_zone():
    # given: exp at 08:00 UTC, now given as 15:59 in Beijing (UTC+8), i.e. 07:59 UTC
    token = sign_token(suite=GM, key=KEYS["gm"], kid="k1", claims={"exp": int(NOW.timestamp())})
    beijing = datetime(2025, 6, 1, 15, 59, tzinfo=timezone(timedelta(hours=8)))
    # when / then
    assert verify_token(token, resolve_key=_resolver(GM), now=beijing)


def test_naive_now_is_a_programming_error():
    token = sign_token(suite=GM, key=KEYS["gm"], kid="k1", claims=CLAIMS)
    with pytest.raises(ValueError, match="timezone-aware"):
        verify_token(token, resolve_key=_resolver(GM), now=datetime(2025, 6, 1))


@pytest.mark.parametrize("value", ['"2025-06-01"', "true", "null", "[1]", "1e999"])
def test_non_numeric_exp_is_malformed(value):
    payload = f'{{"exp":{value}}}'.encode()
    token = _sign_raw(GM, KEYS["gm"], {"alg": "SM2-SM3", "kid": "k1"}, payload)
    assert _code(token, _resolver(GM)) == "token.malformed"


@pytest.mark.parametrize(
    "payload",
    [b"[]", b'"x"', b"1", b"{", b'{"a":1,"a":2}', b'{"a":NaN}', b"\xff\xfe", b""],
    ids=["array", "string", "number", "truncated", "duplicate", "nan", "not_utf8", "empty"],
)
def test_correctly_signed_but_malformed_payload_is_malformed(payload):
    token = _sign_raw(GM, KEYS["gm"], {"alg": "SM2-SM3", "kid": "k1"}, payload)
    assert _code(token, _resolver(GM)) == "token.malformed"


def _valid_token() -> str:
    return sign_token(suite=GM, key=KEYS["gm"], kid="k1", claims=CLAIMS)


def _with_header(header_json: bytes) -> str:
    _, payload, signature = _valid_token().split(".")
    return f"{_b64(header_json)}.{payload}.{signature}"


MALFORMED = {
    "empty": "",
    "one_part": "abc",
    "two_parts": "abc.def",
    "four_parts": _valid_token() + ".x",
    "empty_payload": _valid_token().split(".")[0] + "..abc",
    "padding": _valid_token() + "==",
    "standard_base64": _valid_token().replace("-", "+").replace("_", "/") + "+/",
    "non_ascii": _valid_token() + "证",
    "whitespace": " " + _valid_token(),
    # 64 signature bytes end in a character carrying 2 bits and 4 zero bits; set one of those.
    "stray_bits": _valid_token()[:-1]
    + {"A": "B", "Q": "R", "g": "h", "w": "x"}[_valid_token()[-1]],
    "short_signature": _valid_token()[:-4],
    "header_not_json": _with_header(b"alg"),
    "header_array": _with_header(b'["SM2-SM3","k1"]'),
    "header_extra_key": _with_header(b'{"alg":"SM2-SM3","kid":"k1","typ":"JWT"}'),
    "header_no_kid": _with_header(b'{"alg":"SM2-SM3"}'),
    "header_alg_none": _with_header(b'{"alg":"none","kid":"k1"}'),
    "header_alg_hs256": _with_header(b'{"alg":"HS256","kid":"k1"}'),
    "header_alg_list": _with_header(b'{"alg":["SM2-SM3"],"kid":"k1"}'),
    "header_alg_object": _with_header(b'{"alg":{},"kid":"k1"}'),
    "header_kid_number": _with_header(b'{"alg":"SM2-SM3","kid":1}'),
    "header_kid_empty": _with_header(b'{"alg":"SM2-SM3","kid":""}'),
    "header_kid_control": _with_header(b'{"alg":"SM2-SM3","kid":"k\\n1"}'),
    "header_duplicate": _with_header(b'{"alg":"ES256","alg":"SM2-SM3","kid":"k1"}'),
    "header_deep": _with_header(b"[" * 100_000),
}


@pytest.mark.parametrize("token", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_tokens(token):
    # given
    resolve = _resolver(GM)
    # when / then: refused before any key lookup
    assert _code(token, resolve) == "token.malformed"
    assert resolve.calls == []
    with pytest.raises(TokenError) as caught:
        read_token_header(token)
    assert caught.value.code == "token.malformed"


@pytest.mark.parametrize("token", [None, b"a.b.c", 42])
def test_non_string_tokens_are_malformed(token):
    assert _code(token, _resolver(GM)) == "token.malformed"


# --- signing-side programming errors ---------------------------------------------------------


@pytest.mark.parametrize("kid", ["", "k" * 257, "k\n1"])
def test_sign_token_refuses_bad_kids(kid):
    with pytest.raises(ValueError, match="kid must be"):
        sign_token(suite=GM, key=KEYS["gm"], kid=kid, claims={})


def test_sign_token_refuses_a_key_of_another_suite():
    with pytest.raises(TypeError, match="not a key of the gm suite"):
        sign_token(suite=GM, key=KEYS["intl"], kid="k1", claims={})


@pytest.mark.parametrize("claims", [{"x": float("nan")}, {"x": object()}, {1: "x"}])
def test_sign_token_refuses_non_json_claims(claims):
    with pytest.raises((TypeError, ValueError)):
        sign_token(suite=GM, key=KEYS["gm"], kid="k1", claims=claims)


def test_token_error_shape():
    error = TokenError("token.expired")
    assert (error.code, error.message, str(error)) == ("token.expired", "令牌已过期", "令牌已过期")
    assert repr(error) == "TokenError(code='token.expired', message='令牌已过期')"


# --- fuzzing ---------------------------------------------------------------------------------

CODES = {
    "token.malformed",
    "token.unknown_key",
    "token.bad_signature",
    "token.expired",
    "token.not_yet_valid",
}
FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _any_key(alg, kid):
    return GM.public_key_of(KEYS["gm"]) if alg == "SM2-SM3" else INTL.public_key_of(KEYS["intl"])


@FUZZ
@given(st.text(max_size=300))
def test_fuzz_text_is_malformed(text):
    with pytest.raises(TokenError) as caught:
        verify_token(text, resolve_key=_any_key, now=NOW)
    assert caught.value.code == "token.malformed"


_segments = st.one_of(
    st.binary(max_size=120).map(_b64),
    st.text(alphabet="ABCxyz019-_=+/.", max_size=40),
)
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=6,
)
_headers = st.one_of(
    # well-formed, so the key lookup and signature check are reached too
    st.fixed_dictionaries(
        {"alg": st.sampled_from(["SM2-SM3", "ES256"]), "kid": st.sampled_from(["k1", "k2"])}
    ).map(lambda h: _b64(json.dumps(h).encode())),
    st.fixed_dictionaries(
        {
            "alg": st.sampled_from(["SM2-SM3", "ES256", "none", ""]) | _json_values,
            "kid": st.text(max_size=5) | _json_values,
        }
    ).map(lambda h: _b64(json.dumps(h).encode())),
    _segments,
)
_payloads = st.one_of(
    st.dictionaries(st.text(max_size=5), st.integers() | st.floats() | _json_values).map(
        lambda d: _b64(json.dumps(d).encode())
    ),
    _segments,
)


@FUZZ
@given(
    header=_headers,
    payload=_payloads,
    signature=st.binary(min_size=64, max_size=64).map(_b64) | _segments,
)
def test_fuzz_structured_garbage_raises_only_token_error(header, payload, signature):
    with pytest.raises(TokenError) as caught:
        verify_token(f"{header}.{payload}.{signature}", resolve_key=_any_key, now=NOW)
    assert caught.value.code in CODES


VALID = {
    suite.name: sign_token(suite=suite, key=KEYS[suite.name], kid="k1", claims=CLAIMS)
    for suite in (GM, INTL)
}


@FUZZ
@given(
    name=st.sampled_from(["gm", "intl"]),
    data=st.data(),
)
def test_fuzz_any_edit_of_a_valid_token_is_refused(name, data):
    # given
    token = VALID[name]
    position = data.draw(st.integers(0, len(token) - 1))
    replacement = data.draw(st.text(alphabet="ABCabc0123-_.=+/证 ", min_size=0, max_size=2))
    edited = token[:position] + replacement + token[position + 1 :]
    if edited == token:
        return
    # when / then
    with pytest.raises(TokenError) as caught:
        verify_token(edited, resolve_key=_any_key, now=NOW)
    assert caught.value.code in CODES


# --- QR tokens: binary claims in base 36 -----------------------------------------------------

from shared.crypto.tokens import (  # noqa: E402 - the QR section's own imports
    is_qr_token,
    sign_qr_token,
    token_from_text,
    verify_qr_token,
)
from shared.domain.identifiers import build_identifier  # noqa: E402

QR_ID = CLAIMS["id"]
QR_ISSUER = "11430000006122244L"
KID = {suite.name: suite.key_id(suite.public_key_of(KEYS[suite.name])) for suite in (GM, INTL)}
IAT = int(NOW.timestamp())
EXP = IAT + 30 * 86400
QR_SHAPE = re.compile(r"[1-9A-Z][0-9A-Z]*")


def _qr(suite, **overrides):
    args = {
        "suite": suite,
        "key": KEYS[suite.name],
        "kid": KID[suite.name],
        "identifier": QR_ID,
        "issuer": QR_ISSUER,
        "issued_at": IAT,
        "expires_at": EXP,
        "status_index": 131_071,
    }
    return sign_qr_token(**{**args, **overrides})


def _keys(suite, *keys):
    """A registry answering a kid prefix with ``keys`` (default: the suite's key)."""
    publics = [suite.public_key_of(k) for k in (keys or (KEYS[suite.name],))]
    calls = []

    def resolve(alg, prefix):
        calls.append((alg, prefix))
        return publics if KID[suite.name].startswith(prefix) else []

    resolve.calls = calls
    return resolve


def _b36decode(token: str) -> bytes:
    """An independent decoder: the token is one base-36 number, big-endian bytes."""
    number = int(token, 36)
    return number.to_bytes((number.bit_length() + 7) // 8, "big")


def _b36encode(data: bytes) -> str:
    number, out = int.from_bytes(data, "big"), ""
    while number:
        number, digit = divmod(number, 36)
        out = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[digit] + out
    return out


def _qr_raw(suite, body: bytes, key=None) -> str:
    """A QR token with an arbitrary body, correctly signed (so only its structure is wrong)."""
    key = key if key is not None else KEYS[suite.name]
    r, s = decode_dss_signature(suite.sign(key, b"elicense-qr-token:" + body))
    return _b36encode(body + r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def _qr_code(token, resolve, now=NOW) -> str:
    with pytest.raises(TokenError) as caught:
        verify_qr_token(token, resolve_keys=resolve, now=now)
    return caught.value.code


@BOTH
def test_qr_round_trip_carries_the_design_claims(suite):
    # given
    resolve = _keys(suite)
    # when
    token = _qr(suite)
    verified = verify_qr_token(token, resolve_keys=resolve, now=NOW)
    # then: identifier, version, issuer, issued-at, expires-at (DESIGN §5) and the status index
    assert QR_SHAPE.fullmatch(token) and is_qr_token(token)
    assert verified == VerifiedToken(
        kid=KID[suite.name][:8],
        alg=suite.token_alg,
        claims={"id": QR_ID, "ver": 1, "iss": QR_ISSUER, "iat": IAT, "exp": EXP, "sli": 131_071},
    )
    assert resolve.calls == [(suite.token_alg, KID[suite.name][:8])]
    assert read_token_header(token) == {"alg": suite.token_alg, "kid": KID[suite.name][:8]}


@BOTH
def test_qr_token_layout_is_binary_and_compact(suite):
    # given
    token = _qr(suite)
    jws = sign_token(
        suite=suite,
        key=KEYS[suite.name],
        kid=KID[suite.name],
        claims={"id": QR_ID, "ver": 1, "iss": QR_ISSUER, "iat": IAT, "exp": EXP, "sli": 131_071},
    )
    # when
    data = _b36decode(token)
    # then: header, 4-byte kid, uint32 times, and the raw r ‖ s signature at the end
    assert data[0] == 0x10 | {"gm": 1, "intl": 2}[suite.name]
    assert data[1:5] == bytes.fromhex(KID[suite.name])[:4]
    assert int.from_bytes(data[5:9], "big") == IAT
    assert int.from_bytes(data[9:13], "big") == EXP
    assert len(data) == 114  # 50 bytes of claims + 64 of signature
    assert len(token) == 176 < len(jws) / 2


def test_qr_alphanumeric_serial_other_issuer_and_no_status_index():
    # given: a serial with letters, an issuer other than the identifier's, no status index
    identifier = str(
        build_identifier(
            type_code="11100000000013338W011",
            issuer_code=QR_ISSUER,
            serial="A0B1C2",
            version=999,
        )
    )
    token = _qr(GM, identifier=identifier, issuer="91410100MA44XXXX0X", status_index=None)
    # when
    claims = verify_qr_token(token, resolve_keys=_keys(GM), now=NOW).claims
    # then
    assert claims == {
        "id": identifier,
        "ver": 999,
        "iss": "91410100MA44XXXX0X",
        "iat": IAT,
        "exp": EXP,
    }


@BOTH
def test_qr_expiry_boundary(suite):
    token = _qr(suite)
    exp = datetime.fromtimestamp(EXP, UTC)
    assert verify_qr_token(token, resolve_keys=_keys(suite), now=exp - timedelta(seconds=1))
    assert _qr_code(token, _keys(suite), now=exp) == "token.expired"
    # without `now` the window is not checked (the verify page reads an expired code's date)
    assert verify_qr_token(token, resolve_keys=_keys(suite)).claims["exp"] == EXP
    with pytest.raises(ValueError, match="timezone-aware"):
        verify_qr_token(token, resolve_keys=_keys(suite), now=datetime(2025, 6, 1))


@BOTH
def test_qr_forgeries_are_refused(suite):
    token = _qr(suite)
    # another key under the same kid prefix
    assert _qr_code(token, _keys(suite, OTHER_KEYS[suite.name])) == "token.bad_signature"
    # a token signed by another key, looked up among ours
    forged = _qr(suite, key=OTHER_KEYS[suite.name])
    assert _qr_code(forged, _keys(suite)) == "token.bad_signature"
    # a prefix shared by two keys: the one that verifies wins
    both = _keys(suite, OTHER_KEYS[suite.name], KEYS[suite.name])
    assert verify_qr_token(token, resolve_keys=both, now=NOW).claims["id"] == QR_ID
    # no key, or only a key of the other suite (no algorithm confusion)
    assert _qr_code(token, lambda alg, prefix: []) == "token.unknown_key"
    other_suite = INTL if suite is GM else GM
    assert _qr_code(
        token, lambda alg, prefix: [other_suite.public_key_of(KEYS[other_suite.name])]
    ) == ("token.unknown_key")
    # the JWS verifier does not accept a QR token, nor the QR verifier a JWS
    assert _code(token, _resolver(suite)) == "token.malformed"
    jws = sign_token(suite=suite, key=KEYS[suite.name], kid="k1", claims=CLAIMS)
    assert _qr_code(jws, _keys(suite)) == "token.malformed"


def _body(
    *,
    header=0x11,
    flags=1 | 2,
    type_int=None,
    issuer_int=None,
    serial=(11, 20230000403, 5),
    tail=b"\x00\x01\x7f",
):
    """A QR token body with the given parts (defaults: the valid claims of `_qr(GM)`)."""
    definer = 0
    for char in "11100000000013338W":
        definer = definer * 31 + "0123456789ABCDEFGHJKLMNPQRTUWXY".index(char)
    issuer = 0
    for char in QR_ISSUER:
        issuer = issuer * 31 + "0123456789ABCDEFGHJKLMNPQRTUWXY".index(char)
    length, value, width = serial
    return (
        bytes([header])
        + bytes.fromhex(KID["gm"])[:4]
        + IAT.to_bytes(4, "big")
        + EXP.to_bytes(4, "big")
        + bytes([flags])
        + (type_int if type_int is not None else definer * 1000 + 11).to_bytes(13, "big")
        + (issuer_int if issuer_int is not None else issuer).to_bytes(12, "big")
        + bytes([length])
        + value.to_bytes(width, "big")
        + tail
    )


def test_qr_body_helper_matches_the_signer():
    # the oracle below builds exactly what sign_qr_token writes (status index 127)
    token = _qr(GM, status_index=127)
    assert _b36decode(token)[:-64] == _body()
    assert verify_qr_token(_qr_raw(GM, _body()), resolve_keys=_keys(GM), now=NOW).claims == {
        "id": QR_ID,
        "ver": 1,
        "iss": QR_ISSUER,
        "iat": IAT,
        "exp": EXP,
        "sli": 127,
    }


QR_MALFORMED = {
    "format_2": _body(header=0x21),
    "alg_0": _body(header=0x10),
    "alg_3": _body(header=0x13),
    "unknown_flag": _body(flags=1 | 2 | 8),
    "trailing_byte": _body(tail=b"\x00\x01\x7f\x00"),
    "short": _body(tail=b"\x00"),
    "overlong_varint": _body(tail=b"\x00\x01\xff\x00"),
    "endless_varint": _body(tail=b"\x00\x01\xff\xff\xff\xff\x01"),
    "definer_out_of_range": _body(type_int=31**18 * 1000),
    "issuer_out_of_range": _body(issuer_int=31**18),
    "serial_length_0": _body(serial=(0, 0, 0)),
    "serial_length_31": _body(serial=(31, 1, 13)),
    "serial_out_of_range": _body(serial=(2, 100, 1)),
    "digit_serial_in_base_36": _body(flags=2, serial=(2, 37, 2)),  # "11" spelt in base 36
    "version_0": _body(tail=b"\x00\x00\x7f"),
    "version_1000": _body(tail=b"\x03\xe8\x7f"),
    "issuer_flag_same_issuer": _body(
        flags=1 | 2 | 4, tail=b"\x00\x01\x7f" + _body()[27:39]
    ),  # the explicit issuer repeats the identifier's
}


@pytest.mark.parametrize("body", QR_MALFORMED.values(), ids=QR_MALFORMED.keys())
def test_qr_correctly_signed_but_malformed_bodies(body):
    # given
    token = _qr_raw(GM, body)
    resolve = _keys(GM)
    # when / then: refused before any key lookup
    assert _qr_code(token, resolve) == "token.malformed"
    assert resolve.calls == []


QR_TEXT_MALFORMED = {
    "empty": "",
    "leading_zero": "0" + _qr(GM),
    "lower_case": _qr(GM).lower(),
    "too_long": "Z" * 401,
    "signature_only": _b36encode(b"\x11" * 64),
    "space": _qr(GM)[:20] + " " + _qr(GM)[20:],
    "dot": _qr(GM) + ".",
}


@pytest.mark.parametrize("token", QR_TEXT_MALFORMED.values(), ids=QR_TEXT_MALFORMED.keys())
def test_qr_malformed_text(token):
    assert _qr_code(token, _keys(GM)) == "token.malformed"


@pytest.mark.parametrize("token", [None, b"ABC", 42])
def test_qr_non_string_tokens_are_malformed(token):
    assert _qr_code(token, _keys(GM)) == "token.malformed"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("HTTP://HOST/V/ABC123", "ABC123"),
        ("https://host/prefix/v/abc123?x=1#f", "ABC123"),
        ("  abc123  ", "ABC123"),
        ("http://host/v/eyJh.eyJi.c2ln", "eyJh.eyJi.c2ln"),  # the former JWS form, as is
        ("eyJh.eyJi.c2ln", "eyJh.eyJi.c2ln"),
        ("http://host/V/", ""),
    ],
)
def test_token_from_text(text, expected):
    assert token_from_text(text) == expected


def test_sign_qr_token_refuses_programming_errors():
    with pytest.raises(ValueError, match="licence identifier"):
        _qr(GM, identifier="1.2.3")
    with pytest.raises(ValueError, match="hexadecimal"):
        _qr(GM, kid="k1")
    with pytest.raises(ValueError, match="at least 4 bytes"):
        _qr(GM, kid="abcd")
    with pytest.raises(ValueError, match="uint32"):
        _qr(GM, expires_at=2**32)
    with pytest.raises(ValueError, match="uint32"):
        _qr(GM, issued_at=-1)
    with pytest.raises(ValueError, match="status_index"):
        _qr(GM, status_index=2**28)
    with pytest.raises(ValueError, match="统一社会信用代码"):
        _qr(GM, issuer="410100")
    with pytest.raises(TypeError, match="not a key of the gm suite"):
        _qr(GM, key=KEYS["intl"])


def _qr_any_key(alg, prefix):
    return [_any_key(alg, prefix)]


QR_VALID = {suite.name: _qr(suite) for suite in (GM, INTL)}


@FUZZ
@given(name=st.sampled_from(["gm", "intl"]), data=st.data())
def test_fuzz_any_edit_of_a_valid_qr_token_is_refused(name, data):
    # given
    token = QR_VALID[name]
    position = data.draw(st.integers(0, len(token) - 1))
    replacement = data.draw(
        st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZa $%*+-./:", max_size=2)
    )
    edited = token[:position] + replacement + token[position + 1 :]
    if edited == token:
        return
    # when / then
    with pytest.raises(TokenError) as caught:
        verify_qr_token(edited, resolve_keys=_qr_any_key, now=NOW)
    assert caught.value.code in CODES


@FUZZ
@given(st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", max_size=420) | st.text())
def test_fuzz_qr_text_raises_only_token_error(text):
    for candidate in (text, token_from_text(text), token_from_text(f"HTTP://H/V/{text}")):
        with pytest.raises(TokenError) as caught:
            verify_qr_token(candidate, resolve_keys=_qr_any_key, now=NOW)
        assert caught.value.code in CODES
