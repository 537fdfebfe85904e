"""The request id of a change travels with its outbox event: written on the row in the change's
transaction, carried inside the signed envelope the relay builds, answered in the receiver's
acknowledgement and logged by the relay when the answer comes back.

The receiver is the stand-in library of tests/exchange_standin.py: it opens each envelope the
way the hub does (signature, receiver, clock) and answers the request ids it found in the signed
events, as the hub's ingest does (tests/hub/test_hub_request_ids.py checks the hub's own answer).
"""

import pytest
from django.utils import timezone

from shared.exchange.envelopes import EnvelopeError, envelope_body, open_envelope, with_body
from shared.federation import relay
from shared.federation.models import OutboxEvent
from tests.exchange_standin import standin_fixture
from tests.log_capture import captured

pytestmark = pytest.mark.django_db

HUB = "410000"

receiver = standin_fixture(kid="hub")


def issue(client, payload, request_id):
    response = client.post(
        "/api/v1/licenses/", payload, format="json", HTTP_X_REQUEST_ID=request_id
    )
    assert response.status_code == 201, response.content
    return response.json()["identifier"]


def test_a_change_writes_its_request_id_on_its_outbox_row(issuer, issue_payload, license_type):
    # given: the type's publication, written outside any request (a fixture)
    [published] = OutboxEvent.objects.all()
    assert published.request_id == ""
    # when: a counter issues and then suspends a licence, each call with its own id
    ident = issue(issuer, issue_payload(), "counter-zz-0001")
    issuer.post(
        f"/api/v1/licenses/{ident}/suspend/",
        {"reason": "暂扣"},
        format="json",
        HTTP_X_REQUEST_ID="counter-zz-0002",
    )
    # then: each row names the request that made its change
    rows = list(OutboxEvent.objects.order_by("seq").values_list("kind", "request_id"))
    assert rows == [
        ("catalog.type", ""),
        ("license.event", "counter-zz-0001"),
        ("license.event", "counter-zz-0002"),
    ]


def test_a_request_refused_writes_no_row_and_its_id_nowhere(issuer, issue_payload):
    ident = issue(issuer, issue_payload(), "counter-zz-0001")
    before = list(OutboxEvent.objects.values_list("seq", "request_id"))
    refused = issuer.post(
        f"/api/v1/licenses/{ident}/resume/",
        {"reason": "x"},
        format="json",
        HTTP_X_REQUEST_ID="counter-zz-0009",
    )
    assert refused.status_code == 409
    assert list(OutboxEvent.objects.values_list("seq", "request_id")) == before


def test_the_relay_carries_it_signed_and_logs_the_receivers_answer(
    receiver, issuer, issue_payload, license_type
):
    # given: two licences issued by two counter requests
    first = issue(issuer, issue_payload(number="ZZ0001"), "counter-zz-0001")
    issue(issuer, issue_payload(number="ZZ0002"), "counter-zz-0002")
    # when: the relay sends the stream
    with captured() as lines:
        result = relay.relay_stream(stream=HUB)
    # then: one envelope; each licence's event carries its request id inside the signed body,
    # the type's publication (no request) carries none
    assert (result.sent, result.acknowledged, result.error) == (3, 3, "")
    [envelope] = receiver.envelopes
    events = envelope_body(envelope)["events"]
    assert [e.get("request_id") for e in events] == [None, "counter-zz-0001", "counter-zz-0002"]
    assert "request_id" not in events[0]
    assert events[1]["payload"]["license"]["identifier"] == first
    # the relay logs the receiver's answer: the requests whose changes it took
    [acked] = lines.events("exchange.envelope_acknowledged")
    assert acked["request_ids"] == ["counter-zz-0001", "counter-zz-0002"]
    assert (acked["stream"], acked["first_seq"], acked["last_seq"]) == (HUB, 1, 3)
    assert (acked["high_water_mark"], acked["applied"], acked["rejected"]) == (3, 3, 0)
    assert set(OutboxEvent.objects.values_list("state", flat=True)) == {"acknowledged"}


def test_the_request_id_is_inside_what_is_signed(receiver, issuer, issue_payload):
    issue(issuer, issue_payload(), "counter-zz-0001")
    envelope = relay.envelope_for(stream=HUB, first=1, last=2)
    body = envelope_body(envelope)
    assert body["events"][1]["request_id"] == "counter-zz-0001"
    # a request id changed on the way breaks the signature
    body["events"][1]["request_id"] = "counter-zz-0666"
    envelope = with_body(envelope, body)
    with pytest.raises(EnvelopeError) as refused:
        open_envelope(
            envelope,
            resolve_key=lambda s, k: receiver.public_key,
            receiver=HUB,
            now=timezone.now(),
        )
    assert refused.value.code == "exchange.bad_signature"


def test_an_older_receivers_answer_without_ids_is_acknowledged_all_the_same(
    receiver, issuer, issue_payload
):
    receiver.answer_ids = False
    issue(issuer, issue_payload(), "counter-zz-0001")
    with captured() as lines:
        result = relay.relay_stream(stream=HUB)
    assert (result.acknowledged, result.error) == (2, "")
    [acked] = lines.events("exchange.envelope_acknowledged")
    assert acked["request_ids"] == []
    assert set(OutboxEvent.objects.values_list("state", flat=True)) == {"acknowledged"}


def test_a_failed_delivery_logs_the_request_ids_it_holds_up(receiver, issuer, issue_payload):
    issue(issuer, issue_payload(), "counter-zz-0001")
    receiver.stop()  # the receiver is down: connection refused
    with captured() as lines:
        result = relay.relay_stream(stream=HUB)
    assert result.error.startswith("exchange.unreachable")
    [failed] = lines.events("exchange.envelope_failed")
    assert failed["level"] == "warning"
    assert (failed["code"], failed["permanent"]) == ("exchange.unreachable", False)
    assert failed["request_ids"] == ["counter-zz-0001"]
    assert (failed["first_seq"], failed["last_seq"]) == (1, 2)
    assert set(OutboxEvent.objects.values_list("state", flat=True)) == {"failed"}
