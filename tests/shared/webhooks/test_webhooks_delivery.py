"""Events and deliveries (issue #14 item 4): one event per subscription and licence change,
written with the change; signed POSTs, every attempt a row, back-off, dead after N attempts,
the operator's retry; a delivered event is never sent again."""

import json
from datetime import timedelta

import pytest
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from shared.access.models import Grant
from shared.domain.status import Action
from shared.licenses.services import license_act
from shared.webhooks import signing
from shared.webhooks.deliveries import backoff, webhook_deliver, webhook_sweep
from shared.webhooks.models import DeliveryAttempt, WebhookEvent
from tests.notify_support import notify_calls_fixture  # noqa: F401
from tests.shared.webhooks.conftest import MATTER
from tests.support import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def subscription(consumer, used, receiver):
    response = consumer.post(
        "/api/v1/webhooks/subscriptions/",
        {
            "identifier": used.identifier,
            "matter_code": MATTER,
            "use_cause": "跟踪食品经营许可证状态，办理后续监管",
            "target_url": receiver.url,
            "signing": "hmac-sm3",
        },
    )
    assert response.status_code == 201, response.content
    return response.json()


def suspend(issuer_user, licence):
    return license_act(
        actor=issuer_user, identifier=licence.identifier, action=Action.suspend, reason="涉嫌违法"
    )


def test_a_status_change_writes_one_event_per_subscription(subscription, issuer_user, used):
    # when
    _, event = suspend(issuer_user, used)
    # then
    row = WebhookEvent.objects.get()
    assert (row.license_event_id, row.subscription_id) == (event.pk, subscription["id"])
    assert row.type == "licence.suspend"
    assert row.state == WebhookEvent.State.PENDING
    assert row.payload == {
        "event_id": str(row.event_id),
        "type": "licence.suspend",
        "identifier": used.identifier,
        "status": "suspended",
        "from_status": "valid",
        "version": 1,
        "occurred_at": event.created_at.isoformat(),
        "library_code": used.library_code,
        "subscription_id": subscription["id"],
        "matter_code": MATTER,
    }


def test_a_rolled_back_change_writes_no_event(subscription, issuer_user, used):
    # when
    with pytest.raises(RuntimeError), transaction.atomic():
        suspend(issuer_user, used)
        raise RuntimeError
    # then
    assert WebhookEvent.objects.count() == 0


def test_no_event_without_a_live_subscription_or_grant(subscription, consumer, issuer_user, used):
    # given: a pledge is no status change; then the grant is revoked
    license_act(
        actor=issuer_user,
        identifier=used.identifier,
        action=Action.pledge,
        pledgee="中国银行郑州分行",
        until=timezone.localdate() + timedelta(days=30),
    )
    assert WebhookEvent.objects.count() == 0
    Grant.objects.update(revoked_at=timezone.now())
    # when
    suspend(issuer_user, used)
    # then
    assert WebhookEvent.objects.count() == 0


def test_delivery_is_signed_and_sent_once(subscription, issuer_user, used, receiver):
    # given
    suspend(issuer_user, used)
    row = WebhookEvent.objects.get()
    receiver.start()
    # when
    state = webhook_deliver(event_id=str(row.event_id))
    again = webhook_deliver(event_id=str(row.event_id))
    swept = webhook_sweep()
    # then
    assert (state, again, swept) == ("delivered", None, 0)
    assert len(receiver.received) == 1
    headers, body = receiver.received[0]
    assert headers[signing.HEADER_EVENT_ID] == str(row.event_id)
    assert headers[signing.HEADER_SIGNATURE].startswith("hmac-sm3=")
    assert signing.verify(
        secret=subscription["secret"],
        timestamp=headers[signing.HEADER_TIMESTAMP],
        body=body,
        header=headers[signing.HEADER_SIGNATURE],
    )
    assert not signing.verify(
        secret="0" * 64,
        timestamp=headers[signing.HEADER_TIMESTAMP],
        body=body,
        header=headers[signing.HEADER_SIGNATURE],
    )
    assert json.loads(body) == row.payload
    attempt = DeliveryAttempt.objects.get()
    assert (attempt.number, attempt.status_code, attempt.succeeded) == (1, 200, True)


@override_settings(WEBHOOK_MAX_ATTEMPTS=3, WEBHOOK_RETRY_BASE_SECONDS=10)
def test_failures_back_off_then_die_and_the_operator_retries(
    subscription, issuer_user, used, receiver, admin
):
    # given: the receiver answers 503
    suspend(issuer_user, used)
    row = WebhookEvent.objects.get()
    receiver.status = 503
    receiver.start()
    # when: the first attempt fails
    before = timezone.now()
    assert webhook_deliver(event_id=str(row.event_id)) == "pending"
    # then: the next one waits 10 s, and nothing is sent before then
    row.refresh_from_db()
    assert row.attempts == 1
    assert row.last_error.startswith("HTTP 503")
    assert before + timedelta(seconds=10) <= row.next_attempt_at
    assert webhook_deliver(event_id=str(row.event_id)) is None
    assert len(receiver.received) == 1
    # when: attempts 2 and 3 at their due times
    for _ in range(2):
        row.refresh_from_db()
        webhook_deliver(event_id=str(row.event_id), now=row.next_attempt_at)
    # then: dead, each attempt a row
    row.refresh_from_db()
    assert (row.state, row.attempts, row.next_attempt_at) == ("dead", 3, None)
    assert list(DeliveryAttempt.objects.values_list("number", "status_code", "succeeded")) == [
        (1, 503, False),
        (2, 503, False),
        (3, 503, False),
    ]
    # when: the operator retries; the receiver is fine now
    receiver.status = 200
    response = admin.post("/api/v1/webhooks/events/retry/", {"event_ids": [str(row.event_id)]})
    assert response.status_code == 200, response.content
    assert response.json() == {"retried": 1}
    assert webhook_sweep() == 1
    # then
    row.refresh_from_db()
    assert row.state == "delivered"
    assert DeliveryAttempt.objects.count() == 4
    assert len(receiver.received) == 4
    assert {h[signing.HEADER_EVENT_ID] for h, _ in receiver.received} == {str(row.event_id)}


def test_a_consumer_cannot_retry(subscription, consumer):
    # when
    response = consumer.post("/api/v1/webhooks/events/retry/", {})
    # then
    assert response.status_code == 403
    assert WebhookEvent.objects.count() == 0


def test_deleting_the_subscription_cancels_pending_events(
    subscription, consumer, issuer_user, used
):
    # given
    suspend(issuer_user, used)
    # when
    consumer.delete(f"/api/v1/webhooks/subscriptions/{subscription['id']}/")
    # then
    row = WebhookEvent.objects.get()
    assert row.state == WebhookEvent.State.CANCELLED
    assert webhook_deliver(event_id=str(row.event_id)) is None
    assert DeliveryAttempt.objects.count() == 0


def test_the_consumer_sees_its_events_and_attempts(subscription, consumer, issuer_user, used):
    # given
    suspend(issuer_user, used)
    # when
    answer = consumer.get("/api/v1/webhooks/events/?state=pending").json()
    # then
    assert [e["type"] for e in answer["results"]] == ["licence.suspend"]
    assert answer["results"][0]["deliveries"] == []


def test_backoff_doubles_and_is_capped():
    with override_settings(WEBHOOK_RETRY_BASE_SECONDS=30, WEBHOOK_RETRY_MAX_SECONDS=3600):
        assert [backoff(n).total_seconds() for n in (1, 2, 3, 7, 8)] == [30, 60, 120, 1920, 3600]


def test_sm2_delivery_verifies_with_the_published_key(consumer, used, receiver, issuer_user):
    # given: an sm2-sm3 subscription (no shared secret)
    created = consumer.post(
        "/api/v1/webhooks/subscriptions/",
        {
            "identifier": used.identifier,
            "matter_code": MATTER,
            "use_cause": "跟踪食品经营许可证状态，办理后续监管",
            "target_url": receiver.url,
            "signing": "sm2-sm3",
        },
    )
    assert created.status_code == 201, created.content
    assert created.json()["secret"] == ""
    published = consumer.get("/api/v1/webhooks/signing-key/").json()
    suspend(issuer_user, used)
    row = WebhookEvent.objects.get()
    receiver.start()
    # when
    assert webhook_deliver(event_id=str(row.event_id)) == "delivered"
    # then
    headers, body = receiver.received[0]
    assert headers[signing.HEADER_KEY_ID] == published["key_id"]
    assert headers[signing.HEADER_SIGNATURE].startswith("sm2-sm3=")
    stamp, header = headers[signing.HEADER_TIMESTAMP], headers[signing.HEADER_SIGNATURE]
    assert signing.verify_sm2(
        public_key_pem=published["public_key"], timestamp=stamp, body=body, header=header
    )
    assert not signing.verify_sm2(
        public_key_pem=published["public_key"], timestamp=stamp, body=body + b" ", header=header
    )
    assert not signing.verify(secret="", timestamp=stamp, body=body, header=header)


def test_an_event_whose_grant_ended_before_delivery_is_not_sent(
    subscription, issuer_user, used, receiver
):
    # given: the event exists, then the grant is revoked
    suspend(issuer_user, used)
    row = WebhookEvent.objects.get()
    Grant.objects.update(revoked_at=timezone.now())
    receiver.start()
    # when
    state = webhook_deliver(event_id=str(row.event_id))
    # then
    assert state == WebhookEvent.State.CANCELLED
    assert receiver.received == []
    assert DeliveryAttempt.objects.count() == 0
    row.refresh_from_db()
    assert row.last_error == "用证授权已失效，不再投递"


@override_settings(WEBHOOK_MAX_ATTEMPTS=1)
def test_a_dead_event_tells_the_operators_once_per_death(
    subscription, issuer_user, used, receiver, admin, library_admin, consumer_agency, notify_calls
):
    # given: the consumer agency's administrator, and a receiver that answers 500
    make_user("consumer_admin", consumer_agency, role="agency_admin")
    suspend(issuer_user, used)
    row = WebhookEvent.objects.get()
    receiver.status = 500
    receiver.start()
    # when: the only allowed attempt fails
    assert webhook_deliver(event_id=str(row.event_id)) == "dead"
    # then: one notification, to the library administrator and the agency's administrator
    told = [c for c in notify_calls if c["event"] == "webhook.failed"]  # (the suspend told too)
    assert len(told) == 1
    call = told[0]
    assert call["event"] == "webhook.failed"
    assert call["dedupe_key"] == f"webhook.failed:{row.event_id}:1"
    assert call["users"] == ["admin", "consumer_admin"]
    assert call["subject"] == f"Webhook 投递失败：{used.identifier}"
    assert receiver.url in call["body"] and "HTTP 500" in call["body"]
    assert call["link"] == "/console/admin/webhooks/?state=dead"
    # when: retried by the operator and dead again
    assert admin.post("/api/v1/webhooks/events/retry/", {}).json() == {"retried": 1}
    assert webhook_deliver(event_id=str(row.event_id)) == "dead"
    # then: told again, as a new death
    assert [c["dedupe_key"] for c in notify_calls if c["event"] == "webhook.failed"] == [
        f"webhook.failed:{row.event_id}:1",
        f"webhook.failed:{row.event_id}:2",
    ]


def test_a_sweep_stops_at_its_time_budget(subscription, issuer_user, used, receiver):
    # given: two due events (suspend, resume) and a receiver that takes 0.3 s each
    suspend(issuer_user, used)
    license_act(actor=issuer_user, identifier=used.identifier, action=Action.resume, reason="恢复")
    receiver.delay = 0.3
    receiver.start()
    # when: a sweep with a budget shorter than one delivery
    attempted = webhook_sweep(budget_seconds=0.1)
    # then: the first went, the second waits for the next sweep
    assert attempted == 1
    assert len(receiver.received) == 1
    assert WebhookEvent.objects.filter(state="pending").count() == 1
    assert webhook_sweep() == 1
    assert len(receiver.received) == 2
