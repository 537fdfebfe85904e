"""Reconciliation's resend reads and queues the licences a chunk at a time (after a restore the
hub may lack a million: each is read whole, with its history), one transaction per chunk,
and queues every one of them once."""

import pytest
from django.db import transaction

from shared.federation import outbox
from shared.federation.models import OutboxEvent
from shared.federation.outbox import license_key, license_resend
from shared.licenses.models import License
from tests.shared.files.files_support import issue

pytestmark = pytest.mark.django_db


def test_the_resend_goes_a_chunk_at_a_time(issuer, issue_payload, monkeypatch):
    for n in range(5):
        issue(issuer, issue_payload(number=f"JY141010000900{n:02d}"))
    keys = sorted(license_key(lic) for lic in License.objects.all())
    monkeypatch.setattr(outbox, "RESEND_CHUNK", 2)
    read, atomics = [], []
    by_key, atomic = outbox.licences_by_key, transaction.atomic

    def reading(chunk, **kwargs):  # type: ignore[no-untyped-def]
        read.append(list(chunk))
        return by_key(chunk, **kwargs)

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        atomics.append(1)
        return atomic(*args, **kwargs)

    monkeypatch.setattr(outbox, "licences_by_key", reading)
    monkeypatch.setattr(outbox.transaction, "atomic", counted)
    before = OutboxEvent.objects.filter(kind="license.repair").count()
    # when: six keys, one of them held nowhere
    assert license_resend(stream="410000", keys=[*keys, "X.Y.Z"]) == 5
    # then: read two by two, a transaction each, every licence queued once
    assert [len(chunk) for chunk in read] == [2, 2, 2]
    assert len(atomics) >= 3
    repairs = OutboxEvent.objects.filter(kind="license.repair").order_by("seq")[before:]
    assert sorted(r.key for r in repairs) == keys
