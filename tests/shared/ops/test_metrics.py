"""GET /metrics: the numbers are the rows (exact), and only loopback or the token may read."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.db.models import Max
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from shared.access.models import AccessRecord, Checkpoint
from shared.federation.models import InboundCursor, OutboxEvent, RejectedEvent
from shared.notifications.models import Notification
from shared.webhooks.models import Subscription, WebhookEvent

TOKEN = "t" * 40


def scrape(client, **extra) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", **extra)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def lib(**labels) -> tuple:
    return tuple(sorted({"library": settings.LIBRARY_CODE, **labels}.items()))


def outbox(stream: str, seq: int, state: str, age: timedelta = timedelta(0)) -> None:
    event = OutboxEvent.objects.create(
        stream=stream, seq=seq, kind="license.issued", key=f"k{seq}", payload={}, state=state
    )
    OutboxEvent.objects.filter(pk=event.pk).update(created_at=timezone.now() - age)


@pytest.mark.django_db
def test_metrics_count_the_rows_exactly(client, issuer_user, consumer_agency):
    # given
    outbox("410100", 1, "acknowledged", timedelta(hours=9))
    outbox("410100", 2, "pending", timedelta(minutes=10))
    outbox("410100", 3, "pending", timedelta(minutes=1))
    outbox("410100", 4, "failed", timedelta(minutes=2))
    outbox("410100", 5, "dead", timedelta(hours=1))
    outbox("410200", 1, "sent", timedelta(minutes=30))
    for seq in (7, 8):
        RejectedEvent.objects.create(
            sender="410300",
            seq=seq,
            kind="x",
            key="k",
            error_code="e",
            error_message="m",
            payload={},
        )
    for state in ("pending", "dead", "dead", "sent"):
        Notification.objects.create(
            event="e",
            dedupe_key=f"d{state}{Notification.objects.count()}",
            user=issuer_user,
            channel="email",
            subject="s",
            body="b",
            state=state,
        )
    subscription = Subscription.objects.create(
        agency=consumer_agency,
        identifier="i",
        matter_code="m",
        target_url="https://x.example",
        signing="hmac-sha256",
        secret="s",
    )
    for state in ("pending", "delivered", "delivered", "dead"):
        WebhookEvent.objects.create(subscription=subscription, type="t", payload={}, state=state)
    # The counter is the highest record id (cheap at hub scale), so the last of these rows.
    records = [
        AccessRecord.objects.create(
            library_code=settings.LIBRARY_CODE,
            occurred_at=timezone.now(),
            operation="query",
            outcome="ok",
        )
        for _ in range(3)
    ]
    Checkpoint.objects.create(
        tree_size=3,
        root_hash="r",
        head_hash="h",
        library_code=settings.LIBRARY_CODE,
        signed_at=timezone.now() - timedelta(hours=3),
        key_id="k",
        public_key="p",
        signature="s",
    )
    InboundCursor.objects.create(
        sender="410300",
        high_water_mark=42,
        backlog=5,
        last_envelope_at=timezone.now() - timedelta(seconds=90),
    )
    InboundCursor.objects.create(
        sender="410400",
        high_water_mark=7,
        backlog=0,
        last_envelope_at=timezone.now() - timedelta(seconds=600),
    )

    # when
    m = scrape(client)

    # then
    assert m[("elicense_outbox_backlog", lib(stream="410100", state="pending"))] == 2
    assert m[("elicense_outbox_backlog", lib(stream="410100", state="failed"))] == 1
    assert m[("elicense_outbox_backlog", lib(stream="410200", state="sent"))] == 1
    assert ("elicense_outbox_backlog", lib(stream="410100", state="acknowledged")) not in m
    assert m[("elicense_outbox_dead_events", lib(stream="410100"))] == 1
    oldest = m[("elicense_outbox_oldest_pending_age_seconds", lib(stream="410100"))]
    assert 600 <= oldest < 660
    assert ("elicense_outbox_oldest_pending_age_seconds", lib(stream="410200")) not in m
    assert m[("elicense_federation_rejected_events", lib(sender="410300"))] == 2
    notifications = {
        s: m[("elicense_notifications", lib(state=s))] for s in Notification.State.values
    }
    assert notifications == {"pending": 1, "sending": 0, "sent": 1, "failed": 0, "dead": 2}
    webhooks = {s: m[("elicense_webhook_events", lib(state=s))] for s in WebhookEvent.State.values}
    assert webhooks == {"pending": 1, "delivered": 2, "dead": 1, "cancelled": 0}
    assert m[("elicense_access_records_total", lib())] == records[-1].pk
    assert 3 * 3600 <= m[("elicense_access_checkpoint_age_seconds", lib())] < 3 * 3600 + 60
    assert m[("elicense_sync_high_water_mark", lib(sender="410300"))] == 42
    assert m[("elicense_sync_sender_backlog", lib(sender="410300"))] == 5
    assert 90 <= m[("elicense_sync_lag_seconds", lib(sender="410300"))] < 150
    assert m[("elicense_sync_lag_seconds", lib(sender="410400"))] == 0
    assert 600 <= m[("elicense_sync_last_envelope_age_seconds", lib(sender="410400"))] < 660


@pytest.mark.django_db
def test_metrics_on_an_empty_library_name_every_state_with_zero(client):
    m = scrape(client)
    assert m[("elicense_notifications", lib(state="dead"))] == 0
    assert m[("elicense_webhook_events", lib(state="dead"))] == 0
    last = AccessRecord.objects.aggregate(last=Max("id"))["last"]
    assert m[("elicense_access_records_total", lib())] == (last or 0)
    assert not [key for key in m if key[0].startswith("elicense_outbox_")]


@pytest.mark.django_db
def test_metrics_from_loopback_or_with_the_token_only(client, settings):
    # given
    settings.METRICS_TOKEN = TOKEN
    remote = {"REMOTE_ADDR": "10.1.2.3"}

    # when / then: loopback (IPv4 and IPv6) and the token are let in
    assert client.get("/metrics").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200
    auth = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}
    assert client.get("/metrics", **remote, **auth).status_code == 200

    # a remote caller without the token, or with a wrong one, is refused in the error shape
    for headers in ({}, {"HTTP_AUTHORIZATION": "Bearer wrong"}, {"HTTP_AUTHORIZATION": TOKEN}):
        refused = client.get("/metrics", **remote, **headers)
        assert refused.status_code == 403
        assert refused.json() == {
            "code": "permission.denied",
            "message": "无权访问监控指标",
            "detail": {},
        }
        assert b"elicense_" not in refused.content


@pytest.mark.django_db
def test_metrics_without_a_token_configured_refuse_every_remote_caller(client, settings):
    settings.METRICS_TOKEN = ""
    refused = client.get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION="Bearer ")
    assert refused.status_code == 403
