"""The inspected year travels with the licence on every apply path (per event, bulk insert,
bulk repair); inspections go up on the hub's stream; the beat is scheduled."""

import pytest
from django.conf import settings

from shared.domain.status import Action
from shared.federation import bulk_apply
from shared.federation.apply import HANDLERS
from shared.federation.models import OutboxEvent
from shared.federation.outbox import repair_payload
from shared.inspections.sync import apply_inspection
from shared.licenses.models import License
from shared.licenses.services import license_act
from tests.shared.inspections.conftest import issue
from tests.support import undone

pytestmark = pytest.mark.django_db

SENDER = "410100"  # this node's code: the licences are its own


def _captured(issuer_user, inspection_type, count):
    """Repairs and inspect events of `count` inspected licences, the licences then undone so
    this library lacks them (the receiver's view)."""
    repairs, events = [], []
    with undone():
        for n in range(count):
            lic = issue(issuer_user, inspection_type, number=f"TH{n:04d}")
            license_act(
                actor=issuer_user, identifier=lic.identifier, action=Action.inspect, year=2026
            )
            lic = License.objects.get(pk=lic.pk)
            repairs.append(repair_payload(lic))
        rows = OutboxEvent.objects.filter(kind="license.event").order_by("seq")
        events = [{"kind": r.kind, "key": r.key, "payload": r.payload} for r in rows]
    assert not License.objects.exists()
    return repairs, events


def test_the_bulk_repair_writes_the_inspected_year(issuer_user, inspection_type):
    repairs, _ = _captured(issuer_user, inspection_type, 3)
    batch = [
        {"seq": n, "kind": "license.repair", "key": "k", "payload": p}
        for n, p in enumerate(repairs, start=1)
    ]
    assert all(p["license"]["inspected_year"] == 2026 for p in repairs)
    # when: new to this library (COPY insert)
    assert bulk_apply.apply_repairs(batch, SENDER) == {1, 2, 3}
    assert list(License.objects.values_list("inspected_year", flat=True)) == [2026] * 3
    # when: held here, a repair without the column (an older sender's) is authoritative too
    for event in batch:
        event["payload"]["license"].pop("inspected_year")
    assert bulk_apply.apply_repairs(batch, SENDER) == {1, 2, 3}
    assert list(License.objects.values_list("inspected_year", flat=True)) == [None] * 3


def test_the_per_event_path_writes_the_inspected_year(issuer_user, inspection_type):
    _, events = _captured(issuer_user, inspection_type, 1)
    assert [e["payload"]["event"]["action"] for e in events] == ["issue", "inspect"]
    for event in events:
        HANDLERS[event["kind"]](event["payload"], sender=SENDER)
    lic = License.objects.get()
    assert (lic.inspected_year, lic.last_event_seq) == (2026, 2)
    assert lic.events.order_by("seq").last().data == {"year": 2026, "actor": "issuer_1"}


def test_the_handler_is_registered_and_the_beat_scheduled():
    assert HANDLERS["inspection.update"] is apply_inspection
    entry = settings.CELERY_BEAT_SCHEDULE["inspections-close-window"]
    assert (entry["task"], entry["schedule"]) == ("inspections.close_window", 86400)
