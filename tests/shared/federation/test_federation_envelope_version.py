"""The relay sends the envelope form FEDERATION_ENVELOPE_VERSION names: 3 by default (the body's
bytes as the HTTP body, the signature in headers), 2 (those bytes in base64 inside JSON) or 1
(the canonical JSON signed) while a receiver is not yet upgraded. The receiver here is
tests/exchange_standin.py, which opens envelopes the way the hub does."""

import pytest

from shared.exchange.envelopes import envelope_body
from shared.federation import relay, sizing
from shared.federation.models import OutboxEvent
from tests.exchange_standin import standin_fixture

pytestmark = pytest.mark.django_db

HUB = "410000"
receiver = standin_fixture(kid="hub")
FORMS = {3: "data", 2: "signed", 1: "body"}


@pytest.mark.parametrize("version", [3, 2, 1])
def test_the_relay_sends_the_form_asked_for_and_it_is_taken(
    settings, receiver, issuer, issue_payload, version
):
    settings.FEDERATION_ENVELOPE_VERSION = version
    response = issuer.post("/api/v1/licenses/", issue_payload(), format="json")
    assert response.status_code == 201, response.content
    result = relay.relay_stream(stream=HUB)
    assert (result.sent, result.acknowledged, result.error) == (2, 2, "")
    [envelope] = receiver.envelopes
    assert {f for f in FORMS.values() if f in envelope} == {FORMS[version]}
    events = envelope_body(envelope)["events"]
    assert events[1]["payload"]["license"]["identifier"] == response.json()["identifier"]
    assert set(OutboxEvent.objects.values_list("state", flat=True)) == {"acknowledged"}


def test_a_receiver_older_than_version_3_gets_the_same_signed_bytes_as_version_2(
    settings, receiver, issuer, issue_payload
):
    """No setting to change while the hub is upgraded first: an older receiver answers 415 to
    version 3, and the adapter sends that envelope and the rest of the run as version 2."""
    settings.FEDERATION_ENVELOPE_VERSION = 3
    receiver.json_only = True
    for number in ("A0001", "A0002"):
        response = issuer.post("/api/v1/licenses/", issue_payload(number=number), format="json")
        assert response.status_code == 201, response.content
    # envelopes of two events at most: two of them
    settings.FEDERATION_BATCH_SIZE = settings.FEDERATION_BATCH_MIN = 2
    settings.FEDERATION_BATCH_MAX = 2
    sizing.forget()
    result = relay.relay_stream(stream=HUB)
    assert (result.sent, result.acknowledged, result.error) == (3, 3, "")  # the type, two licences
    assert receiver.refused_raw == 1  # asked once; the rest went as version 2 at once
    assert len(receiver.envelopes) == 2
    assert all("signed" in e and e["v"] == 2 for e in receiver.envelopes)
    assert set(OutboxEvent.objects.values_list("state", flat=True)) == {"acknowledged"}


def test_the_bus_carries_json_so_it_gets_version_2_when_3_is_asked(settings):
    from shared.federation.outgoing import envelope_version

    settings.FEDERATION_ENVELOPE_VERSION = 3
    assert (envelope_version("http"), envelope_version("amqp")) == (3, 2)
    settings.FEDERATION_ENVELOPE_VERSION = 1
    assert envelope_version("amqp") == 1


def test_a_version_the_code_does_not_know_is_refused_before_anything_is_sent(
    settings, receiver, issuer, issue_payload
):
    settings.FEDERATION_ENVELOPE_VERSION = 4
    issuer.post("/api/v1/licenses/", issue_payload(), format="json")
    with pytest.raises(ValueError, match="envelope version 4"):
        relay.relay_stream(stream=HUB)
    assert receiver.envelopes == []
