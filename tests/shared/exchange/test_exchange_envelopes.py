"""Envelopes: signed by the sender, refused when forged, tampered, misaddressed or stale."""

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from shared.crypto.suites import get_suite
from shared.domain.canonical import canonical_json_of_data
from shared.exchange.envelopes import (
    EnvelopeError,
    dumps,
    envelope_body,
    open_envelope,
    seal,
    seal_wire,
    with_body,
)

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
    assert opened.backlog == 3
    signed = base64.b64decode(received["signed"])
    tampered = base64.b64encode(signed.replace("证照".encode(), "假证".encode())).decode()
    with pytest.raises(EnvelopeError) as caught:
        open_envelope(
            {**received, "signed": tampered},
            resolve_key=resolver(keys),
            receiver="410000",
            now=NOW,
        )
    assert caught.value.code == "exchange.bad_signature"


def test_the_signature_covers_the_bytes_as_sent_not_their_meaning(keys):
    """Version 2 signs the body's bytes: the same data in another key order is not what was
    signed (so no end has to put it into a canonical form)."""
    envelope = make(keys)
    body = envelope_body(envelope)
    reordered = dict(reversed(list(body.items())))
    assert reordered == body
    with pytest.raises(EnvelopeError) as caught:
        open_envelope(
            with_body(envelope, reordered), resolve_key=resolver(keys), receiver="410000", now=NOW
        )
    assert caught.value.code == "exchange.bad_signature"


def test_a_version_1_envelope_from_a_sender_not_yet_upgraded_is_accepted(keys):
    """Version 1: the body as JSON, the signature over its canonical form."""
    suite, key, kid = keys
    body = envelope_body(make(keys))
    signature = suite.sign(key, canonical_json_of_data(body))
    old = {
        "body": body,
        "alg": make(keys)["alg"],
        "kid": kid,
        "sig": base64.b64encode(signature).decode(),
    }
    opened = open_envelope(old, resolve_key=resolver(keys), receiver="410000", now=NOW)
    assert opened.events[0]["payload"] == {"a": "证照"}
    old["body"]["events"][0]["payload"]["a"] = "假证"
    with pytest.raises(EnvelopeError) as caught:
        open_envelope(old, resolve_key=resolver(keys), receiver="410000", now=NOW)
    assert caught.value.code == "exchange.bad_signature"


def test_a_body_the_receiver_cannot_parse_is_malformed(keys):
    envelope = make(keys)

    def refuse(data):
        raise ValueError("嵌套过深")

    for broken in ("!!!", base64.b64encode(b"[1, 2").decode(), base64.b64encode(b"[]").decode()):
        with pytest.raises(EnvelopeError) as caught:
            open_envelope(
                {**envelope, "signed": broken},
                resolve_key=resolver(keys),
                receiver="410000",
                now=NOW,
            )
        assert caught.value.code == "exchange.malformed"
    with pytest.raises(EnvelopeError) as caught:
        open_envelope(
            envelope, resolve_key=resolver(keys), receiver="410000", now=NOW, loads=refuse
        )
    assert caught.value.code == "exchange.malformed"


@pytest.mark.parametrize(
    "mutate,code",
    [
        # each applied to the body and to the envelope around it: it changes one of them
        (
            lambda e: "events" in e and e["events"][0]["payload"].update(a="改"),
            "exchange.bad_signature",
        ),
        (lambda e: "events" in e and e.update(sender="410300"), "exchange.unknown_key"),
        (lambda e: "sig" in e and e.update(kid="other"), "exchange.unknown_key"),
        (lambda e: "sig" in e and e.update(sig="!!!"), "exchange.malformed"),
        (lambda e: "sig" in e and e.update(alg="RS256"), "exchange.bad_algorithm"),
        (lambda e: "sig" in e and e.pop("signed"), "exchange.malformed"),
        (lambda e: "sig" in e and e.update(v=3), "exchange.malformed"),
    ],
)
def test_tampering_is_refused(keys, mutate, code):
    envelope = make(keys)
    body = envelope_body(envelope)
    mutate(body)
    envelope = with_body(envelope, body)
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
    assert envelope_body(make(keys))["envelope_id"] != envelope_body(make(keys))["envelope_id"]
