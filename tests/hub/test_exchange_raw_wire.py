"""Version 3 at the hub's `/api/v1/exchange/envelopes/`: the signed body is the request's body
and the signature is in headers. It is taken as version 2 is, and refused the same way: 400 for
a request that is not an envelope, 403 for a forgery, 409 for a replay, 413 for a body over the
limit, each with nothing changed."""

import pytest
from django.test import override_settings

from shared.catalog.models import LicenseType
from shared.exchange.envelopes import RAW_MEDIA_TYPE, raw_request
from shared.federation.models import InboundCursor, ReceivedEnvelope
from tests.hub.test_hardening_federation import LY, numbered
from tests.hub.test_hub_request_ids import renamed

pytestmark = pytest.mark.django_db
ENVELOPES = "/api/v1/exchange/envelopes/"


def send(anon, headers, body):
    """POST as the HTTP adapter does: the body's bytes, the signature in headers."""
    meta = {
        "HTTP_" + name.upper().replace("-", "_"): value
        for name, value in headers.items()
        if name != "Content-Type"
    }
    content_type = headers.get("Content-Type", RAW_MEDIA_TYPE)
    return anon.generic("POST", ENVELOPES, body, content_type=content_type, **meta)


def raw(city, events):
    return raw_request(city.envelope(events, version=3))


def unchanged(ly_type):
    assert LicenseType.objects.get(pk=ly_type.pk).name == ly_type.name
    assert not InboundCursor.objects.filter(sender=LY, high_water_mark__gt=0).exists()


def test_a_version_3_envelope_is_applied_and_acknowledged(anon, luoyang, ly_type):
    events = numbered([renamed(ly_type, "洛阳市食品经营许可证（三）", "counter-ly-0003")])
    response = send(anon, *raw(luoyang, events))
    assert response.status_code == 200, response.content
    ack = response.json()
    assert (ack["high_water_mark"], ack["applied"], ack["request_ids"]) == (
        1,
        1,
        ["counter-ly-0003"],
    )
    assert LicenseType.objects.get(pk=ly_type.pk).name == "洛阳市食品经营许可证（三）"
    received = ReceivedEnvelope.objects.get()
    assert (received.sender, received.outcome, received.applied) == (LY, "applied", 1)


def test_the_same_request_twice_is_a_replay(anon, luoyang, ly_type):
    headers, body = raw(luoyang, numbered([renamed(ly_type, "洛阳市食品经营许可证（三）")]))
    assert send(anon, headers, body).status_code == 200
    again = send(anon, headers, body)
    assert (again.status_code, again.json()["code"]) == (409, "exchange.replay")


def test_a_body_changed_on_the_way_is_a_forgery_held_against_nobody(anon, luoyang, ly_type):
    headers, body = raw(luoyang, numbered([renamed(ly_type, "洛阳市食品经营许可证（三）")]))
    forged = body.replace("（三）".encode(), "（伪）".encode())
    response = send(anon, headers, forged)
    assert (response.status_code, response.json()["code"]) == (403, "exchange.bad_signature")
    assert "签名" in response.json()["message"]
    unchanged(ly_type)
    refused = ReceivedEnvelope.objects.get()
    assert (refused.outcome, refused.sender, refused.claimed_sender) == ("refused", "", LY)


@pytest.mark.parametrize(
    "change",
    [
        lambda h, b: ({k: v for k, v in h.items() if k != "X-Envelope-Signature"}, b),
        lambda h, b: ({k: v for k, v in h.items() if k != "X-Envelope-Kid"}, b),
        lambda h, b: (h | {"X-Envelope-Kid": h["X-Envelope-Kid"] + "\x00"}, b),
        lambda h, b: (h | {"X-Envelope-Kid": "密钥"}, b),
        lambda h, b: (h, b[: len(b) // 2]),  # cut short
        lambda h, b: (h, b"\xff\xfe" + b),  # not UTF-8
        lambda h, b: (h, b'{"events": ' + b"[" * 5000 + b"]" * 5000 + b"}"),  # too deep
        lambda h, b: (h, b.replace(b'"events":[', b'"events":[{"seq":"\\ud800"},', 1)),
        lambda h, b: (h, b""),
    ],
)
def test_a_request_that_is_not_a_whole_envelope_is_400(anon, luoyang, ly_type, change):
    headers, body = change(*raw(luoyang, numbered([renamed(ly_type, "洛阳市食品经营许可证")])))
    response = send(anon, headers, body)
    assert response.status_code == 400, response.content
    assert set(response.json()) == {"code", "message", "detail"}
    assert response.json()["code"] == "exchange.malformed"
    unchanged(ly_type)


def test_a_body_over_the_limit_is_413_and_never_opened(anon, luoyang, ly_type):
    headers, body = raw(luoyang, numbered([renamed(ly_type, "洛阳市食品经营许可证")]))
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=len(body) - 1):
        response = send(anon, headers, body)
    assert (response.status_code, response.json()["code"]) == (413, "request.too_large")
    unchanged(ly_type)
    assert not ReceivedEnvelope.objects.exists()


def test_an_envelope_is_applied_without_cyclic_collection_and_it_is_back_after(
    anon, luoyang, ly_type, monkeypatch
):
    """shared.core.gc_pause: collections were most of the hub's ingest CPU (bench/sync)."""
    import gc

    from shared.federation import ingest

    seen = []
    listeners = [*ingest._applied_listeners, lambda sender, events: seen.append(gc.isenabled())]
    monkeypatch.setattr(ingest, "_applied_listeners", listeners)
    gc.enable()
    response = send(anon, *raw(luoyang, numbered([renamed(ly_type, "洛阳市食品经营许可证")])))
    assert response.status_code == 200, response.content
    assert seen == [False] and gc.isenabled()
    second = send(anon, *raw(luoyang, numbered([renamed(ly_type, "洛阳二")], start=2)))
    assert second.status_code == 200 and seen == [False, False]
    refused = send(anon, {}, b"{}")
    assert refused.status_code == 400 and gc.isenabled()


def test_a_media_type_the_receiver_does_not_know_is_415(anon, luoyang, ly_type):
    """What a receiver older than version 3 answers it (its parsers lack the media type); the
    sender's adapter then sends version 2 (test_federation_envelope_version.py)."""
    headers, body = raw(luoyang, numbered([renamed(ly_type, "洛阳市食品经营许可证")]))
    response = send(anon, headers | {"Content-Type": "application/vnd.elicense.other+json"}, body)
    assert response.status_code == 415
    assert set(response.json()) == {"code", "message", "detail"}
    unchanged(ly_type)
