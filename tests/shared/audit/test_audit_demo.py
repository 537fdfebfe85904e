"""The demo seeds through the services, so its administrative changes are in the audit; seeding
again changes nothing and audits nothing."""

import pytest
from django.core.management import call_command

from shared.audit.models import AuditEntry

pytestmark = pytest.mark.django_db


def test_seeding_is_audited_once(tmp_path):
    call_command("seed_demo", credentials=str(tmp_path / "credentials.json"))
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {
        "agency.create",
        "user.create",
        "catalog.type.create",
        "catalog.type.publish",
    } <= actions
    published = AuditEntry.objects.filter(action="catalog.type.publish").first()
    assert published.username and published.agency_code  # the issuer's staff published it
    assert published.detail["via"] == "command"
    count = AuditEntry.objects.count()
    call_command("seed_demo", credentials=str(tmp_path / "again.json"))
    assert AuditEntry.objects.count() == count
