"""Envelopes: signed by the sender, refused when forged, tampered, misaddressed or stale."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from shared.crypto.suites import get_suite
from shared.exchange.envelopes import EnvelopeError, dumps, open_envelope, seal, seal_wire

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["gm", "intl"])
def keys(request):
    suite = get_suite(request.param)
    key = suite.generate_key()
    return suite, key, suite.key_id(suite.public_key_of(key))


def make(keys, **overrides):
    suite, key, kid = keys
    args = {
        "key": key,
        "kid": kid,
        "sender": "410100",
        "receiver": "410000",
        "stream": "410000",
        "events": [{"seq": 1, "kind": "license.event", "key": "k", "payload": {"a": "证照"}}],
        "now": NOW,
    }
    args.update(overrides)
    return seal(**args)


def resolver(keys):
    suite, key, kid = keys
    public = suite.public_key_of(key)
    return lambda sender, k: public if (sender, k) == ("410100", kid) else None


def test_round_trip(keys):
    opened = open_envelope(make(keys), resolve_key=resolver(keys), receiver="410000", now=NOW)
    assert opened.sender == "410100"
    assert opened.events[0]["payload"] == {"a": "证照"}


def test_the_wire_bytes_are_the_envelope_that_was_signed(keys):
    suite, key, kid = keys
    envelope, wire = seal_wire(
        key=key,
        kid=kid,
        sender="410100",
        receiver="410000",
        stream="410000",
        events=[
            {"seq": 1, "kind": "license.event", "key": "k", "payload": {"名": "证照", "n": 1.5}}
        ],
        now=NOW,
        extra={"backlog": 3},
    )
    received = json.loads(wire)
    assert received == envelope == json.loads(dumps(envelope))
    opened = open_envelope(received, resolve_key=resolver(keys), receiver="410000", now=NOW)
    assert opened.events[0]["payload"] == {"名": "证照", "n": 1.5}
    tampered = wire.replace("证照".encode(), "假证".encode())
    with pytest.raises(EnvelopeError) as caught:
        open_envelope(json.loads(tampered), resolve_key=resolver(keys), receiver="410000", now=NOW)
    assert caught.value.code == "exchange.bad_signature"


@pytest.mark.parametrize(
    "mutate,code",
    [
        (lambda e: e["body"]["events"][0]["payload"].update(a="改"), "exchange.bad_signature"),
        (lambda e: e["body"].update(sender="410300"), "exchange.unknown_key"),
        (lambda e: e.update(kid="other"), "exchange.unknown_key"),
        (lambda e: e.update(sig="!!!"), "exchange.malformed"),
        (lambda e: e.update(alg="RS256"), "exchange.bad_algorithm"),
        (lambda e: e.pop("body"), "exchange.malformed"),
    ],
)
def test_tampering_is_refused(keys, mutate, code):
    envelope = make(keys)
    mutate(envelope)
    with pytest.raises(EnvelopeError) as exc:
        open_envelope(envelope, resolve_key=resolver(keys), receiver="410000", now=NOW)
    assert exc.value.code == code


def test_another_key_is_a_forgery(keys):
    suite, _, kid = keys
    forged = make((suite, suite.generate_key(), kid))
    with pytest.raises(EnvelopeError) as exc:
        open_envelope(forged, resolve_key=resolver(keys), receiver="410000", now=NOW)
    assert exc.value.code == "exchange.bad_signature"


def test_wrong_receiver_and_stale_clock(keys):
    with pytest.raises(EnvelopeError) as exc:
        open_envelope(make(keys), resolve_key=resolver(keys), receiver="410300", now=NOW)
    assert exc.value.code == "exchange.wrong_receiver"
    with pytest.raises(EnvelopeError) as exc:
        open_envelope(
            make(keys), resolve_key=resolver(keys), receiver="410000", now=NOW + timedelta(hours=1)
        )
    assert exc.value.code == "exchange.stale"


def test_each_seal_has_a_fresh_id(keys):
    assert make(keys)["body"]["envelope_id"] != make(keys)["body"]["envelope_id"]
