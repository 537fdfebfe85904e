"""库管理 → Webhook 投递: the operator sees dead deliveries with their error and retries them;
nobody else opens the screen."""

import pytest
from django.test import override_settings

from shared.domain.status import Action
from shared.licenses.services import license_act
from shared.webhooks.deliveries import webhook_deliver
from shared.webhooks.models import WebhookEvent
from tests.console_support import console_client
from tests.shared.webhooks.conftest import MATTER

pytestmark = pytest.mark.django_db


@pytest.fixture
def dead_event(consumer, used, receiver, issuer_user):
    """One event whose only allowed attempt found the receiver down."""
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
    license_act(actor=issuer_user, identifier=used.identifier, action=Action.revoke, reason="吊销")
    event = WebhookEvent.objects.get()
    with override_settings(WEBHOOK_MAX_ATTEMPTS=1):
        assert webhook_deliver(event_id=str(event.event_id)) == "dead"
    event.refresh_from_db()
    return event


def test_the_operator_sees_dead_deliveries_and_retries_them(library_admin, dead_event):
    # given
    admin = console_client(library_admin)
    # when
    page = admin.get("/console/admin/webhooks/").content.decode()
    # then
    assert "Webhook 投递" in page
    assert str(dead_event.event_id) in page
    assert "ConnectionError" in page
    assert f'name="ids" value="{dead_event.pk}"' in page
    # when: nothing ticked → nothing changes
    nothing = admin.post("/console/admin/webhooks/retry/", {"scope": "selected"})
    assert nothing.status_code == 302
    dead_event.refresh_from_db()
    assert dead_event.state == "dead"
    # when: retried
    admin.post("/console/admin/webhooks/retry/", {"scope": "selected", "ids": [dead_event.pk]})
    # then
    dead_event.refresh_from_db()
    assert (dead_event.state, dead_event.attempts) == ("pending", 0)
    assert dead_event.deliveries.count() == 1  # the failed attempt stays on record


def test_staff_and_consumers_cannot_open_it(issuer_user, consumer_user, dead_event):
    for user in (issuer_user, consumer_user):
        client = console_client(user)
        # when
        page = client.get("/console/admin/webhooks/")
        retry = client.post("/console/admin/webhooks/retry/", {"scope": "all"})
        # then
        assert page.status_code == 403
        assert retry.status_code == 403
    dead_event.refresh_from_db()
    assert dead_event.state == "dead"


@pytest.mark.parametrize(("kick_max", "kicked"), [(500, "webhooks.deliver"), (0, "webhooks.sweep")])
def test_a_retry_names_its_events_to_the_worker_only_when_they_are_few(
    library_admin, dead_event, monkeypatch, django_capture_on_commit_callbacks, kick_max, kicked
):
    from shared.webhooks import deliveries

    # given: the number of events past which a retry leaves them to the sweep
    monkeypatch.setattr(deliveries, "RETRY_KICK_MAX", kick_max)
    # when: every dead event is retried
    with django_capture_on_commit_callbacks() as callbacks:
        assert deliveries.webhook_retry(actor=library_admin) == 1
    # then: pending and due; one task queued after commit, naming the event only when few
    dead_event.refresh_from_db()
    assert (dead_event.state, dead_event.attempts) == ("pending", 0)
    ((task, args, _coalesce),) = [c.args for c in callbacks]
    assert task.name == kicked
    assert args == (([str(dead_event.event_id)],) if kick_max else ())
