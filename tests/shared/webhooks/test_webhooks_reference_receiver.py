"""The reference receiver (shared/webhooks/receiver_reference.py) does what docs/webhooks.md
asks of a consumer system: it verifies, refuses stale or forged deliveries, and processes a
repeated event id once. Driven by real deliveries of this library."""

import json

import pytest

from shared.domain.status import Action
from shared.licenses.services import license_act
from shared.webhooks.deliveries import _post, request_parts, webhook_deliver
from shared.webhooks.models import WebhookEvent
from shared.webhooks.receiver_reference import ReferenceReceiver
from tests.shared.webhooks.conftest import MATTER

pytestmark = pytest.mark.django_db


@pytest.fixture
def subscribed(consumer, used):
    def make(url):
        response = consumer.post(
            "/api/v1/webhooks/subscriptions/",
            {
                "identifier": used.identifier,
                "matter_code": MATTER,
                "use_cause": "跟踪食品经营许可证状态，办理后续监管",
                "target_url": url,
            },
        )
        assert response.status_code == 201, response.content
        return response.json()

    return make


def test_a_repeated_delivery_is_processed_once(subscribed, issuer_user, used, tmp_path):
    out = tmp_path / "webhooks.jsonl"
    with ReferenceReceiver(out=out) as receiver:
        receiver.secret = subscribed(receiver.url)["secret"]
        license_act(
            actor=issuer_user, identifier=used.identifier, action=Action.revoke, reason="吊销"
        )
        event = WebhookEvent.objects.select_related("subscription").get()
        # when: delivered, then the same event POSTed again (a worker died before its commit)
        assert webhook_deliver(event_id=str(event.event_id)) == "delivered"
        assert _post(event) == (200, "")
    # then
    lines = out.read_text().splitlines()
    assert [json.loads(line)["event_id"] for line in lines] == [str(event.event_id)]
    assert (receiver.repeats, receiver.refused) == (1, 0)


def test_forged_or_stale_deliveries_are_refused(subscribed, issuer_user, used):
    with ReferenceReceiver() as receiver:
        receiver.secret = subscribed(receiver.url)["secret"]
        license_act(
            actor=issuer_user, identifier=used.identifier, action=Action.revoke, reason="吊销"
        )
        event = WebhookEvent.objects.select_related("subscription").get()
        body, headers = request_parts(event, timestamp="1000000000")  # 2001: a replay
        # when: a stale one, and one signed with a secret the receiver does not hold
        stale = receiver.receive(headers, body)
        receiver.secret = "f" * 64
        forged = webhook_deliver(event_id=str(event.event_id))
        # then
        assert stale == 401
        assert forged == "pending"
        event.refresh_from_db()
        assert event.last_error.startswith("HTTP 401")
        assert receiver.events == {}
        assert receiver.refused == 2
