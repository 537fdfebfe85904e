"""The hub's ingest logs the request ids a city's envelope carries and answers them in the
acknowledgement (the city's relay logs them: tests/shared/federation/test_federation_request_ids.py).

Envelopes are real: signed in-process with a key registered for 洛阳 (410300) and posted to the
hub's `/api/v1/exchange/envelopes/`, as a node's relay would; their events are 洛阳's changes to
its own licence type (applied) and one to 郑州's type (refused as not 洛阳's, still taken).
"""

import pytest

from shared.catalog.models import LicenseType
from shared.exchange.envelopes import envelope_body, with_body
from shared.federation.models import InboundCursor, ReceivedEnvelope
from shared.federation.snapshots import type_snapshot
from tests.hub.test_hardening_federation import LY, numbered, post
from tests.log_capture import captured

pytestmark = pytest.mark.django_db


def renamed(license_type, name, request_id=None):
    event = {
        "kind": "catalog.type",
        "key": license_type.type_code,
        "payload": {"type": type_snapshot(license_type) | {"name": name}},
    }
    return event | ({"request_id": request_id} if request_id is not None else {})


def test_ingest_logs_and_answers_the_request_ids_of_the_events_it_took(
    anon, luoyang, ly_type, license_type
):
    # given: four changes from four counter requests at 洛阳 (one with an id that is not plain)
    # and one from before request ids existed; one of them is to 郑州's type
    events = numbered(
        [
            renamed(ly_type, "洛阳市食品经营许可证（一）", "counter-ly-0001"),
            renamed(ly_type, "洛阳市食品经营许可证（二）", "counter-ly-0002"),
            renamed(license_type, "伪造的证照类型", "counter-ly-0003"),
            renamed(ly_type, "洛阳市食品经营许可证（三）", "bad id; rm -rf /"),
            renamed(ly_type, "洛阳市食品经营许可证（四）"),
            renamed(ly_type, "洛阳市食品经营许可证（五）", "counter-ly-0002"),
        ]
    )
    # when: 洛阳's relay posts them in one envelope
    with captured() as lines:
        response = anon.post(
            "/api/v1/exchange/envelopes/",
            luoyang.envelope(events),
            format="json",
            HTTP_X_REQUEST_ID="relay-ly-77",
        )
    # then: applied as before (the refused one dead-lettered), and the ack names the requests
    # in order, once each, without the id that is not plain
    assert response.status_code == 200, response.json()
    ack = response.json()
    assert (ack["high_water_mark"], ack["applied"], len(ack["rejected"])) == (6, 5, 1)
    assert ack["request_ids"] == ["counter-ly-0001", "counter-ly-0002", "counter-ly-0003"]
    assert LicenseType.objects.get(pk=ly_type.pk).name == "洛阳市食品经营许可证（五）"
    # the hub's line: the envelope, its sender, and the city's requests; the line's own id is
    # the call's (the relay's X-Request-ID), which its http.request line shares
    [received] = lines.events("exchange.envelope_received")
    assert received["request_ids"] == ack["request_ids"]
    assert (received["sender"], received["stream"], received["transport"]) == (LY, "410000", "http")
    assert (received["first_seq"], received["last_seq"], received["applied"]) == (1, 6, 5)
    assert (received["rejected"], received["duplicates"]) == (1, 0)
    assert received["request_id"] == "relay-ly-77"
    [call] = lines.events("http.request")
    assert (call["request_id"], call["status"]) == ("relay-ly-77", 200)
    assert "rm -rf" not in lines.text


def test_an_envelope_from_an_older_sender_without_ids_is_taken(anon, luoyang, ly_type):
    events = numbered([renamed(ly_type, "洛阳市食品经营许可证（旧版）")])
    with captured() as lines:
        response = post(anon, luoyang.envelope(events))
    assert response.status_code == 200, response.json()
    assert (response.json()["applied"], response.json()["request_ids"]) == (1, [])
    assert LicenseType.objects.get(pk=ly_type.pk).name == "洛阳市食品经营许可证（旧版）"
    [received] = lines.events("exchange.envelope_received")
    assert received["request_ids"] == []


def test_a_resent_event_is_a_duplicate_and_still_answers_its_id(anon, luoyang, ly_type):
    events = numbered([renamed(ly_type, "洛阳市食品经营许可证（一）", "counter-ly-0001")])
    assert post(anon, luoyang.envelope(events)).status_code == 200
    again = post(anon, luoyang.envelope(events)).json()  # a retry: a new envelope, same event
    assert (again["applied"], again["duplicates"]) == (0, 1)
    assert again["request_ids"] == ["counter-ly-0001"]


def test_a_refused_envelope_is_logged_without_trusting_its_claims(anon, luoyang, ly_type):
    envelope = luoyang.envelope(
        numbered([renamed(ly_type, "洛阳市食品经营许可证（一）", "counter-ly-0001")])
    )
    body = envelope_body(envelope)
    body["events"][0]["request_id"] = "counter-ly-0666"  # changed on the way
    envelope = with_body(envelope, body)
    with captured() as lines:
        response = post(anon, envelope)
    assert response.status_code == 403
    assert response.json()["code"] == "exchange.bad_signature"
    [refused] = lines.events("exchange.envelope_refused")
    assert refused["level"] == "warning"
    assert (refused["code"], refused["sender"], refused["claimed_sender"]) == (
        "exchange.bad_signature",
        None,
        LY,
    )
    assert "counter-ly-0666" not in lines.text
    # nothing applied, the mark unmoved
    assert LicenseType.objects.get(pk=ly_type.pk).name == ly_type.name
    assert not InboundCursor.objects.filter(sender=LY, high_water_mark__gt=0).exists()
    assert ReceivedEnvelope.objects.get().outcome == "refused"
