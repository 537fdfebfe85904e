"""Two workers at one due event (a kick and the sweep, or two sweeps): the row lock with skip
locked lets exactly one POST it; the other finds nothing to do."""

import threading
import time

import pytest
from django.db import connections

from shared.domain.status import Action
from shared.licenses.services import license_act
from shared.webhooks.deliveries import webhook_deliver
from shared.webhooks.models import DeliveryAttempt, WebhookEvent
from tests.shared.webhooks.conftest import MATTER

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_workers_deliver_one_event_once(consumer, used, receiver, issuer_user):
    # given: a subscribed licence suspended; a receiver that takes its time answering
    created = consumer.post(
        "/api/v1/webhooks/subscriptions/",
        {
            "identifier": used.identifier,
            "matter_code": MATTER,
            "use_cause": "跟踪食品经营许可证状态，办理后续监管",
            "target_url": receiver.url,
        },
    )
    assert created.status_code == 201
    license_act(actor=issuer_user, identifier=used.identifier, action=Action.suspend, reason="暂扣")
    event_id = str(WebhookEvent.objects.get().event_id)
    receiver.delay = 0.5
    receiver.start()
    results: list[str | None] = []
    barrier = threading.Barrier(2)

    def worker() -> None:
        try:
            barrier.wait()
            results.append(webhook_deliver(event_id=event_id))
        finally:
            connections.close_all()

    # when
    threads = [threading.Thread(target=worker) for _ in range(2)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # then: one delivered it, the other skipped the locked row at once
    assert sorted(str(r) for r in results) == ["None", "delivered"]
    assert time.monotonic() - started < 5
    assert len(receiver.received) == 1
    assert DeliveryAttempt.objects.count() == 1
