"""Expiry by the clock: the beat job moves licences past their validity to `expired`."""

from datetime import timedelta

import pytest
from django.utils import timezone

from shared.licenses.models import License
from shared.licenses.services import license_expire_due
from shared.licenses.tasks import expire_due

pytestmark = pytest.mark.django_db


def test_expire_due_expires_only_what_ended(issuer, issue_payload):
    today = timezone.localdate()
    short = issuer.post(
        "/api/v1/licenses/",
        issue_payload(
            valid_from=(today - timedelta(days=30)).isoformat(),
            valid_to=(today - timedelta(days=1)).isoformat(),
        ),
        format="json",
    ).json()["identifier"]
    current = issuer.post("/api/v1/licenses/", issue_payload(number="B"), format="json").json()[
        "identifier"
    ]
    # when the beat task runs
    assert expire_due.apply().get() == 1
    # then
    assert License.objects.get(identifier=short).status == "expired"
    assert License.objects.get(identifier=current).status == "valid"
    events = issuer.get(f"/api/v1/licenses/{short}/events/").json()
    assert [(e["action"], e["actor"]) for e in events] == [("issue", "issuer_1"), ("expire", None)]
    # running twice changes nothing more
    assert license_expire_due() == 0
    # an expired licence can be renewed into a new version
    renewed = issuer.post(
        f"/api/v1/licenses/{short}/renew/",
        {"valid_to": (today + timedelta(days=365)).isoformat()},
        format="json",
    )
    assert renewed.status_code == 200
    assert (renewed.json()["license"]["status"], renewed.json()["license"]["version"]) == (
        "valid",
        2,
    )


def test_suspended_licence_is_not_expired_by_the_clock(issuer, issue_payload):
    today = timezone.localdate()
    ident = issuer.post(
        "/api/v1/licenses/",
        issue_payload(
            valid_from=(today - timedelta(days=30)).isoformat(),
            valid_to=(today - timedelta(days=1)).isoformat(),
        ),
        format="json",
    ).json()["identifier"]
    issuer.post(f"/api/v1/licenses/{ident}/suspend/", {"reason": "暂扣"}, format="json")
    assert license_expire_due() == 0
    assert License.objects.get(identifier=ident).status == "suspended"
