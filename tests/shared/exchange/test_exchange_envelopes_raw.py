"""Version 3: the body's bytes travel as the HTTP body and the signature in headers. It opens
as versions 1 and 2 do, and is refused the same way when anything of it is changed."""

from datetime import UTC, datetime

import pytest

from shared.crypto.suites import get_suite
from shared.exchange.envelopes import (
    RAW_HEADERS,
    RAW_MEDIA_TYPE,
    EnvelopeError,
    envelope_body,
    open_envelope,
    raw_envelope,
    raw_request,
    seal,
    seal_wire,
    with_body,
)

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
EVENTS = [{"seq": 1, "kind": "license.event", "key": "k", "payload": {"名": "证照", "n": 1.5}}]


@pytest.fixture(params=["gm", "intl"])
def keys(request):
    suite = get_suite(request.param)
    key = suite.generate_key()
    return suite, key, suite.key_id(suite.public_key_of(key))


def sealed(keys, version=3):
    suite, key, kid = keys
    return seal_wire(
        key=key,
        kid=kid,
        sender="410100",
        receiver="410000",
        stream="410000",
        events=EVENTS,
        now=NOW,
        extra={"backlog": 3},
        version=version,
    )


def opened(keys, envelope):
    suite, key, kid = keys
    public = suite.public_key_of(key)
    return open_envelope(
        envelope,
        resolve_key=lambda sender, k: public if (sender, k) == ("410100", kid) else None,
        receiver="410000",
        now=NOW,
    )


def received(headers, body):
    """What a receiver rebuilds from a request (header names are case-insensitive)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    return raw_envelope(lambda name: lowered.get(name.lower()), body)


def test_the_request_body_is_the_signed_body_and_opens_as_sent(keys):
    envelope, wire = sealed(keys)
    headers, body = raw_request(envelope)
    assert body == wire and headers["Content-Type"] == RAW_MEDIA_TYPE
    assert set(RAW_HEADERS.values()) < set(headers)
    # the same body that version 2 would carry in base64
    assert envelope_body(envelope) == envelope_body(sealed(keys, version=2)[0]) | {
        "envelope_id": envelope_body(envelope)["envelope_id"]
    }
    result = opened(keys, received(headers, body))
    assert result.events == EVENTS and result.backlog == 3


def test_a_body_changed_on_the_way_is_refused(keys):
    envelope, _ = sealed(keys)
    headers, body = raw_request(envelope)
    with pytest.raises(EnvelopeError) as caught:
        opened(keys, received(headers, body.replace("证照".encode(), "假证".encode())))
    assert caught.value.code == "exchange.bad_signature"
    changed = envelope_body(envelope)
    changed["events"][0]["payload"]["n"] = 2
    with pytest.raises(EnvelopeError) as caught:
        opened(keys, with_body(envelope, changed))
    assert caught.value.code == "exchange.bad_signature"


@pytest.mark.parametrize(
    "change,code",
    [
        (lambda h, b: (h | {"X-Envelope-Kid": "other"}, b), "exchange.unknown_key"),
        (lambda h, b: (h | {"X-Envelope-Alg": "RS256"}, b), "exchange.bad_algorithm"),
        (lambda h, b: (h | {"X-Envelope-Signature": "!!!"}, b), "exchange.malformed"),
        (
            lambda h, b: ({k: v for k, v in h.items() if k != "X-Envelope-Kid"}, b),
            "exchange.malformed",
        ),
        (
            lambda h, b: ({k: v for k, v in h.items() if k != "X-Envelope-Signature"}, b),
            "exchange.malformed",
        ),
        (lambda h, b: (h, b[:-2]), "exchange.malformed"),
        (lambda h, b: (h, b"[]"), "exchange.malformed"),
        (lambda h, b: (h, b""), "exchange.malformed"),
    ],
)
def test_a_request_missing_or_changing_a_part_is_refused(keys, change, code):
    envelope, _ = sealed(keys)
    headers, body = change(*raw_request(envelope))
    with pytest.raises(EnvelopeError) as caught:
        opened(keys, received(headers, body))
    assert caught.value.code == code


def test_version_3_in_json_is_refused_it_travels_only_as_an_http_body(keys):
    envelope, wire = sealed(keys)
    as_json = {**envelope, "data": wire.decode()}
    with pytest.raises(EnvelopeError) as caught:
        opened(keys, as_json)
    assert caught.value.code == "exchange.malformed"
    assert envelope_body(as_json) == {}


def test_seal_makes_each_version(keys):
    suite, key, kid = keys
    args = dict(key=key, kid=kid, sender="410100", receiver="410000", stream="410000")
    for version, form in ((3, "data"), (2, "signed"), (1, "body")):
        envelope = seal(**args, events=EVENTS, now=NOW, version=version)
        assert form in envelope
        assert opened(keys, envelope).events == EVENTS
