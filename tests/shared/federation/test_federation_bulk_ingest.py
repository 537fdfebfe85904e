"""Ingest's fast path for new licences gives exactly what the per-event path gives.

The events are real: licences issued (and one suspended) through the API write their outbox
rows; the change is then rolled back, so this library lacks them, and the envelope is applied
as the receiver would apply it — once through the fast path, once event by event.
"""

import uuid
from datetime import datetime, timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from shared.exchange.envelopes import OpenedEnvelope
from shared.federation import bulk_apply, ingest
from shared.federation.models import Arrival, InboundCursor, RejectedEvent
from shared.federation.snapshots import event_snapshot, license_snapshot, version_snapshot
from shared.licenses.models import License, LicenseEvent, LicenseVersion
from tests.support import make_uscc

pytestmark = pytest.mark.django_db

# The library these licences belong to (this node's code in the tests): only their owner may
# send them (shared.federation.ownership); the test plays the hub receiving that city's stream.
SENDER = "410100"


class _Rollback(Exception):
    """Raised to undo the issuing once its outbox rows are captured."""


def _issue(issuer, issue_payload, count):
    idents = []
    for i in range(count):
        body = issue_payload(
            number=f"JY1410100{i:07d}",
            holder={
                "name": f"郑州豫中食品有限公司{i}",
                "code": make_uscc(dept="91", area="410100", body=f"MB{i:06d}"),
                "code_type": "001",
            },
        )
        response = issuer.post("/api/v1/licenses/", body, format="json")
        assert response.status_code == 201, response.content
        idents.append(response.json()["identifier"])
    return idents


def _outbox_events(issuer, issue_payload, count, *, suspend_first=False):
    """The outbox events of `count` issues (and a suspension of the first), then undone."""
    from shared.federation.models import OutboxEvent

    captured = []
    try:
        with transaction.atomic():
            idents = _issue(issuer, issue_payload, count)
            if suspend_first:
                issuer.post(
                    f"/api/v1/licenses/{idents[0]}/suspend/", {"reason": "暂扣"}, format="json"
                )
            rows = OutboxEvent.objects.filter(kind="license.event").order_by("seq")
            captured = [{"kind": r.kind, "key": r.key, "payload": r.payload} for r in rows]
            raise _Rollback
    except _Rollback:  # undone on purpose: the receiver must lack these licences
        pass
    assert not License.objects.exists()
    return [dict(e, seq=n) for n, e in enumerate(captured, start=1)]


def _same_moment(snap):
    """The snapshot with its timestamp as a moment (the sender writes it in its zone)."""
    return snap | {"case_completed_at": datetime.fromisoformat(snap["case_completed_at"])}


def _apply(events):
    opened = OpenedEnvelope(
        envelope_id=uuid.uuid4().hex,  # a retry is a new envelope
        sender=SENDER,
        receiver="410000",
        stream="410000",
        sent_at=timezone.now(),
        events=events,
        kid="k",
    )
    return ingest._apply(opened, transport="http")


def _state():
    out = {}
    for lic in License.objects.select_related("license_type", "issuer").order_by("serial"):
        out[lic.identifier] = (
            license_snapshot(lic),
            [version_snapshot(v) | {"created_at": None} for v in lic.versions.order_by("version")],
            [
                event_snapshot(e) | {"created_at": None}
                for e in lic.events.select_related("actor").order_by("seq")
            ],
        )
    return out


def _fast_path_off(monkeypatch, *names: str) -> list[str]:
    """Make the named bulk paths of `ingest` take nothing, so every event goes one by one;
    returns the list of the paths that were asked (the test asserts they were)."""
    asked: list[str] = []
    for name in names:

        def take_nothing(todo, sender, name=name):
            asked.append(name)
            return set()

        monkeypatch.setattr(ingest, name, take_nothing)
    return asked


def test_a_whole_envelope_of_new_licences_lands_as_the_sender_holds_it(issuer, issue_payload):
    events = _outbox_events(issuer, issue_payload, 6, suspend_first=True)
    assert len(events) == 7
    with transaction.atomic():  # the six issues take the fast path; the suspension does not
        assert bulk_apply.apply_new_licences(events, SENDER) == {1, 2, 3, 4, 5, 6}
        transaction.set_rollback(True)
    result = _apply(events)
    assert (result.applied, result.rejected, result.high_water_mark) == (7, [], 7)
    assert InboundCursor.objects.get(sender=SENDER).high_water_mark == 7
    suspended = events[-1]["payload"]
    lic = License.objects.get(identifier=suspended["license"]["identifier"])
    assert lic.status == "suspended"  # the later event applied after the bulk insert
    assert lic.events.count() == 2
    for event in events[:-1]:
        snap = event["payload"]["license"]
        lic = License.objects.get(identifier=snap["identifier"])
        if snap["identifier"] != suspended["license"]["identifier"]:
            assert _same_moment(license_snapshot(lic)) == _same_moment(snap)
        assert lic.holder_code == snap["holder"]["code"]  # encrypted and digested as usual
        assert version_snapshot(lic.versions.get())["content_digest"] == snap["content_digest"]
    assert Arrival.objects.count() == 6


def test_the_fast_path_and_the_per_event_path_give_the_same_rows(
    issuer, issue_payload, monkeypatch
):
    events = _outbox_events(issuer, issue_payload, 5, suspend_first=True)
    with transaction.atomic():
        _apply(events)
        fast = _state()
        transaction.set_rollback(True)
    asked = _fast_path_off(monkeypatch, "apply_new_licences")
    _apply(events)
    slow = _state()
    assert asked == ["apply_new_licences"]  # the comparison really ran one by one
    assert fast.keys() == slow.keys() and len(fast) == 5
    for ident in fast:
        f_lic, f_versions, f_events = fast[ident]
        s_lic, s_versions, s_events = slow[ident]
        assert f_lic == s_lic and f_versions == s_versions and f_events == s_events


def test_a_licence_the_receiver_cannot_take_is_dead_lettered_and_the_rest_land(
    issuer, issue_payload, license_type
):
    events = _outbox_events(issuer, issue_payload, 4)
    # The third names a type this library does not know: the per-event path refuses it.
    events[2]["payload"]["license"]["type_code"] = license_type.type_code[:-3] + "999"
    result = _apply(events)
    assert result.applied == 3
    assert [r["seq"] for r in result.rejected] == [3]
    assert RejectedEvent.objects.get(sender=SENDER, seq=3).error_code == "federation.type_unknown"
    assert License.objects.count() == 3
    assert InboundCursor.objects.get(sender=SENDER).high_water_mark == 4


def test_a_duplicate_delivery_inserts_nothing_twice(issuer, issue_payload):
    events = _outbox_events(issuer, issue_payload, 4)
    _apply(events)
    assert bulk_apply.apply_new_licences(events, SENDER) == set()  # all held now: none taken
    again = _apply(events)
    assert (again.applied, again.duplicates) == (0, 4)
    assert License.objects.count() == 4 and Arrival.objects.count() == 4


def test_a_failing_bulk_insert_falls_back_to_one_by_one(issuer, issue_payload, monkeypatch):
    # given: the rows the fast path makes of three new licences
    events = _outbox_events(issuer, issue_payload, 3)
    with transaction.atomic():
        _apply(events)
        fast = _state()
        transaction.set_rollback(True)
    # when: the COPY of their events fails in the database (one event twice: a unique
    # violation), after the licence and version rows were copied in the same savepoint
    real, copied = bulk_apply.copy_values, []

    def copy_values(model, rows, **kwargs):
        copied.append(model)
        if model is LicenseEvent:
            rows = [*rows, rows[0]]
        return real(model, rows, **kwargs)

    monkeypatch.setattr(bulk_apply, "copy_values", copy_values)
    result = _apply(events)
    # then: the fast path ran up to the failing COPY (once without asking what is held, once
    # after asking), and the per-event path made the same rows
    assert copied == [License, LicenseVersion, LicenseEvent] * 2
    assert (result.applied, result.rejected) == (3, [])
    assert _state() == fast and len(fast) == 3
    assert Arrival.objects.count() == 3


def _spy_inserts(monkeypatch) -> list[bool]:
    """Record each bulk insert's `checked` (whether it asked first which licences are held)."""
    real, asked = bulk_apply._insert, []

    def insert(candidates, sender, *, checked):
        asked.append(checked)
        return real(candidates, sender, checked=checked)

    monkeypatch.setattr(bulk_apply, "_insert", insert)
    return asked


def test_new_licences_are_inserted_without_asking_first_what_is_held(
    issuer, issue_payload, monkeypatch
):
    asked = _spy_inserts(monkeypatch)
    result = _apply(_outbox_events(issuer, issue_payload, 3))
    assert (result.applied, result.rejected) == (3, [])
    assert asked == [False]  # one attempt, no lookups: nothing here held any of them
    assert License.objects.count() == 3 and Arrival.objects.count() == 3


def test_an_envelope_with_a_licence_held_already_is_inserted_again_after_asking(
    issuer, issue_payload, monkeypatch
):
    # given: the first of four licences arrived already, in an envelope of its own
    events = _outbox_events(issuer, issue_payload, 4)
    assert _apply(events[:1]).applied == 1
    held = events[0]["payload"]["license"]["identifier"]
    before = _state()[held]
    # when: an envelope brings its issue again (under a new number: not a duplicate by
    # sequence, as after a restore of the sender) with the three others
    asked = _spy_inserts(monkeypatch)
    again = [dict(e, seq=n) for n, e in enumerate(events, start=2)]
    result = _apply(again)
    # then: the first attempt hit the unique index and was undone; the second asked first,
    # took the three new ones, and left the held one to the per-event path
    assert asked == [False, True]
    assert result.high_water_mark == 5 and len(result.rejected) + result.applied == 4
    assert License.objects.count() == 4 and Arrival.objects.count() == 4
    assert LicenseEvent.objects.count() == 4 and LicenseVersion.objects.count() == 4
    assert _state()[held] == before


def test_arrivals_of_bulk_licences_are_measured_against_their_deadline(issuer, issue_payload):
    events = _outbox_events(issuer, issue_payload, 2)
    events[0]["payload"]["license"]["case_completed_at"] = timezone.now().isoformat()
    late = timezone.now() - timedelta(days=3)
    events[1]["payload"]["license"]["case_completed_at"] = late.isoformat()
    _apply(events)
    by_late = dict(Arrival.objects.values_list("late", "mode"))
    assert Arrival.objects.filter(late=True).count() == 1 and by_late[True] == "online"


def _issue_then_repairs(issuer, issue_payload, count):
    """Issue events of `count` licences, and whole-licence repairs sent after the first was
    suspended and the second revoked; all undone here, as before."""
    from shared.federation.models import OutboxEvent
    from shared.federation.outbox import license_resend

    captured = {}
    try:
        with transaction.atomic():
            idents = _issue(issuer, issue_payload, count)
            issues = list(OutboxEvent.objects.filter(kind="license.event").order_by("seq"))
            issuer.post(f"/api/v1/licenses/{idents[0]}/suspend/", {"reason": "暂扣"}, format="json")
            issuer.post(f"/api/v1/licenses/{idents[1]}/revoke/", {"reason": "吊销"}, format="json")
            license_resend(stream="410000", keys=[e.key for e in issues])
            repairs = OutboxEvent.objects.filter(kind="license.repair").order_by("seq")
            captured["issues"] = [
                {"kind": e.kind, "key": e.key, "payload": e.payload} for e in issues
            ]
            captured["repairs"] = [
                {"kind": e.kind, "key": e.key, "payload": e.payload} for e in repairs
            ]
            raise _Rollback
    except _Rollback:  # undone on purpose: the receiver must lack these licences
        pass
    issues = [dict(e, seq=n) for n, e in enumerate(captured["issues"], start=1)]
    repairs = [dict(e, seq=len(issues) + n) for n, e in enumerate(captured["repairs"], start=1)]
    return issues, repairs


def test_repairs_of_an_envelope_are_applied_together_and_win_over_hand_edits(issuer, issue_payload):
    issues, repairs = _issue_then_repairs(issuer, issue_payload, 4)
    assert len(repairs) == 4
    _apply(issues)
    tampered = repairs[2]["payload"]["license"]["identifier"]
    License.objects.filter(identifier=tampered).update(status="cancelled", number="篡改")
    with transaction.atomic():
        assert bulk_apply.apply_repairs(repairs, SENDER) == {5, 6, 7, 8}
        transaction.set_rollback(True)
    result = _apply(repairs)
    assert (result.applied, result.rejected, result.high_water_mark) == (4, [], 8)
    for event in repairs:
        snap = event["payload"]
        lic = License.objects.get(identifier=snap["license"]["identifier"])
        assert _same_moment(license_snapshot(lic)) == _same_moment(snap["license"])
        assert lic.events.count() == len(snap["events"])
        assert lic.versions.count() == len(snap["versions"])
    statuses = [
        License.objects.get(identifier=e["payload"]["license"]["identifier"]).status
        for e in repairs
    ]
    assert statuses == ["suspended", "revoked", "valid", "valid"]


def test_repairs_fast_and_one_by_one_give_the_same_rows(issuer, issue_payload, monkeypatch):
    _, repairs = _issue_then_repairs(issuer, issue_payload, 3)
    repairs = [dict(e, seq=n) for n, e in enumerate(repairs, start=1)]
    with transaction.atomic():
        _apply(repairs)  # the receiver lacked them all: repairs create them
        fast = _state()
        transaction.set_rollback(True)
    asked = _fast_path_off(monkeypatch, "apply_new_licences", "apply_repairs")
    _apply(repairs)
    slow = _state()
    assert sorted(set(asked)) == ["apply_new_licences", "apply_repairs"]
    assert len(fast) == 3 and fast.keys() == slow.keys()
    for ident in fast:
        assert fast[ident][1:] == slow[ident][1:]
        assert _same_moment(fast[ident][0]) == _same_moment(slow[ident][0])


def test_a_repair_whose_identifier_another_licence_holds_is_dead_lettered(issuer, issue_payload):
    issues, repairs = _issue_then_repairs(issuer, issue_payload, 3)
    _apply(issues[:1])
    # the third repair claims the identifier of the licence already here
    repairs[2]["payload"]["license"]["identifier"] = issues[0]["payload"]["license"]["identifier"]
    result = _apply([dict(e, seq=1 + n) for n, e in enumerate(repairs, start=1)])
    assert result.applied == 2
    assert [r["code"] for r in result.rejected] == ["federation.identifier_conflict"]


def test_the_repaired_columns_are_the_fields_a_repair_carries():
    from shared.licenses.codec import license_fields

    sample = {
        k: None
        for k in (
            "identifier version number status pledged pledgee issue_date valid_from valid_to "
            "area_code matter_code surface mode case_completed_at sync_deadline content_digest "
            "sync_deadline_provisional library_code last_event_seq pledge_until"
        ).split()
    } | {"holder": {"name": "", "code": "", "code_type": ""}}
    carried = set(license_fields(sample)) - {"holder_code"} | {
        "holder_code_enc",
        "holder_code_digest",
    }
    assert carried | {"updated_at"} == set(bulk_apply.REPAIRED_COLUMNS)
