"""At the hub: a consumer that used a city's licence at the hub subscribes there; the city's
status change arrives through the federation's apply path (no `license_changed` there) and
still becomes one webhook event; the same event arriving twice makes no second one."""

import pytest

from provincial_hub.aggregation.reconciliation import _quarantine_licence
from shared.domain.status import Action
from shared.federation.apply import apply_license_event
from shared.federation.outbox import license_key, license_payload
from shared.files.models import LicenseFile
from shared.licenses.models import License
from shared.licenses.services import license_act
from shared.webhooks.models import WebhookEvent
from tests.shared.webhooks.conftest import MATTER
from tests.support import undone

pytestmark = pytest.mark.django_db
ZZ = "410100"


def test_a_city_status_change_applied_at_the_hub_is_one_event(
    consumer, used, receiver, issuer_user
):
    # given: the hub's copy of 郑州's licence, used and subscribed to at the hub
    License.objects.filter(pk=used.pk).update(library_code=ZZ)
    created = consumer.post(
        "/api/v1/webhooks/subscriptions/",
        {
            "identifier": used.identifier,
            "matter_code": MATTER,
            "use_cause": "跟踪食品经营许可证状态，办理后续监管",
            "target_url": receiver.url,
        },
    )
    assert created.status_code == 201, created.content
    # 郑州 suspends it: the payload its node sends (made here, then undone)
    with undone():
        lic, event = license_act(
            actor=issuer_user, identifier=used.identifier, action=Action.suspend, reason="暂扣"
        )
        payload = license_payload(lic, event, new_version=False)
    assert WebhookEvent.objects.count() == 0
    # when: the envelope's event is applied, twice (a duplicate delivery)
    apply_license_event(payload, sender=ZZ)
    apply_license_event(payload, sender=ZZ)
    # then
    row = WebhookEvent.objects.get()
    assert row.type == "licence.suspend"
    assert (row.payload["status"], row.payload["library_code"]) == ("suspended", ZZ)
    assert row.subscription_id == created.json()["id"]


def test_a_quarantined_city_licence_leaves_its_subscription_silent(
    consumer, used, receiver, issuer_user
):
    # given: a subscribed hub copy of 郑州's licence with one webhook event
    License.objects.filter(pk=used.pk).update(library_code=ZZ)
    created = consumer.post(
        "/api/v1/webhooks/subscriptions/",
        {
            "identifier": used.identifier,
            "matter_code": MATTER,
            "use_cause": "跟踪食品经营许可证状态，办理后续监管",
            "target_url": receiver.url,
        },
    )
    assert created.status_code == 201, created.content
    license_act(actor=issuer_user, identifier=used.identifier, action=Action.suspend, reason="暂扣")
    used.refresh_from_db()
    LicenseFile.objects.filter(license=used).delete()  # a copy from a city has no file of ours
    # when: reconciliation finds 郑州 never issued it, and quarantines the hub's copy
    assert _quarantine_licence(scope=ZZ, key=license_key(used)) is True
    # then: the licence is gone; the subscription and its event stay, pointing nowhere
    assert not License.objects.filter(pk=used.pk).exists()
    listed = consumer.get("/api/v1/webhooks/subscriptions/").json()["results"]
    assert [(s["id"], s["identifier"]) for s in listed] == [(created.json()["id"], used.identifier)]
    row = WebhookEvent.objects.get()
    assert row.license_event_id is None
    assert row.payload["status"] == "suspended"
