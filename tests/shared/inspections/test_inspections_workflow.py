"""网络年检 (art. 26): a holder submits in the window with materials, the issuer approves (the
licence records the year, an event that syncs) or refuses with a reason."""

import pytest

from shared.federation.models import OutboxEvent
from shared.inspections.models import Inspection
from shared.licenses.models import License
from tests.shared.inspections.conftest import (
    PDF,
    PNG,
    at,
    events,
    holder_api,
    issue,
    staff,
    submit,
)

pytestmark = pytest.mark.django_db


def outbox() -> list[tuple[str, int | None]]:
    """(kind, revision of an inspection) of every outbox row, in stream order."""
    return [
        (row.kind, row.payload.get("inspection", {}).get("revision"))
        for row in OutboxEvent.objects.order_by("seq")
    ]


def test_holder_submits_in_the_window_and_the_issuer_approves_on_time(
    issuer_user, inspection_type, holder_user
):
    # given: a licence issued before the 2026 window
    with at(2025, 11, 3):
        lic = issue(issuer_user, inspection_type, number="TH0001")
    OutboxEvent.objects.all().delete()
    # when: the holder submits in the window, with two materials
    with at(2026, 3, 2):
        response = submit(
            holder_api(),
            lic.identifier,
            files=[("执照.pdf", PDF), ("照片.png", PNG)],
            note="无变更",
        )
    # then
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["year"], body["state"], body["state_label"]) == (2026, "submitted", "待审核")
    assert (body["submitter_kind"], body["submitted_by"], body["note"]) == (
        "holder",
        "holder_1",
        "无变更",
    )
    assert [(m["index"], m["content_type"], m["size"], m["held"]) for m in body["materials"]] == [
        (1, "application/pdf", len(PDF), True),
        (2, "image/png", len(PNG), True),
    ]
    assert outbox() == [("inspection.update", 1)]
    # when: the issuer approves before the window closes
    with at(2026, 3, 5):
        decided = staff(issuer_user).post(f"/api/v1/inspections/{body['id']}/approve/", {})
    # then: approved on time; the licence records the year through its lifecycle
    assert decided.status_code == 200, decided.json()
    result = decided.json()
    assert (result["state"], result["late"], result["decided_by"], result["revision"]) == (
        "approved",
        False,
        "issuer_1",
        2,
    )
    lic.refresh_from_db()
    assert (lic.status, lic.inspected_year, lic.version) == ("valid", 2026, 1)
    assert events(lic)[-1] == ("inspect", "valid", "valid", "", {"year": 2026})
    # the licence event goes up before the inspection that refers to it
    assert outbox() == [("inspection.update", 1), ("license.event", None), ("inspection.update", 2)]
    event = OutboxEvent.objects.get(kind="license.event")
    assert event.payload["license"]["inspected_year"] == 2026
    assert event.payload["event"]["action"] == "inspect"


def test_the_issuer_reads_its_inbox_and_the_materials(issuer_user, inspection_type, holder_user):
    with at(2025, 11, 3):
        lic = issue(issuer_user, inspection_type, number="TH0001")
    with at(2026, 3, 2):
        created = submit(holder_api(), lic.identifier, files=[("照片.png", PNG)]).json()
        client = staff(issuer_user)
        inbox = client.get("/api/v1/inspections/", {"state": "submitted", "year": 2026}).json()
        none = client.get("/api/v1/inspections/", {"state": "approved"}).json()
        detail = client.get(f"/api/v1/inspections/{created['id']}/")
        material = client.get(f"/api/v1/inspections/{created['id']}/materials/1/")
        missing = client.get(f"/api/v1/inspections/{created['id']}/materials/2/")
    assert [row["id"] for row in inbox["results"]] == [created["id"]]
    assert none["results"] == []
    assert detail.status_code == 200 and detail.json()["license_identifier"] == lic.identifier
    assert material.status_code == 200
    assert (material.content, material["Content-Type"]) == (PNG, "image/png")
    assert material["Content-Disposition"].endswith('-1.png"')
    assert (missing.status_code, missing.json()["code"]) == (404, "inspection.material_not_found")


def test_a_refusal_needs_a_reason_and_the_holder_may_submit_again(
    issuer_user, inspection_type, holder_user
):
    with at(2025, 11, 3):
        lic = issue(issuer_user, inspection_type, number="TH0001")
    with at(2026, 3, 2):
        first = submit(holder_api(), lic.identifier).json()
    client = staff(issuer_user)
    with at(2026, 3, 3):
        blank = client.post(f"/api/v1/inspections/{first['id']}/refuse/", {"reason": "  "})
        assert blank.status_code == 400
        assert Inspection.objects.get(pk=first["id"]).state == "submitted"
        refused = client.post(
            f"/api/v1/inspections/{first['id']}/refuse/", {"reason": "材料不清晰，请重新上传"}
        )
    assert refused.status_code == 200
    assert (refused.json()["state"], refused.json()["decision_reason"]) == (
        "refused",
        "材料不清晰，请重新上传",
    )
    lic.refresh_from_db()
    assert (lic.status, lic.inspected_year, [e[0] for e in events(lic)]) == (
        "valid",
        None,
        ["issue"],
    )
    # a refused one cannot be decided again, and nothing changes
    with at(2026, 3, 4):
        for decision, body in (("approve", {}), ("refuse", {"reason": "再次不予通过"})):
            again = client.post(f"/api/v1/inspections/{first['id']}/{decision}/", body)
            assert (again.status_code, again.json()["code"]) == (409, "inspection.illegal_state")
        second = submit(holder_api(), lic.identifier, files=[("执照.pdf", PDF)])
    assert second.status_code == 201
    row = Inspection.objects.get(pk=first["id"])
    assert (row.state, row.revision, row.decision_reason) == (
        "refused",
        2,
        "材料不清晰，请重新上传",
    )
    assert Inspection.objects.filter(license=lic, year=2026).count() == 2


def test_out_of_order_and_duplicates_answer_409_and_change_nothing(
    issuer_user, inspection_type, holder_user
):
    with at(2025, 11, 3):
        lic = issue(issuer_user, inspection_type, number="TH0001")
        revoked = issue(issuer_user, inspection_type, number="TH0002")
    client = staff(issuer_user)
    with at(2026, 3, 2):
        first = submit(holder_api(), lic.identifier).json()
        other = submit(client, revoked.identifier).json()
        duplicate = submit(client, lic.identifier)
    assert (duplicate.status_code, duplicate.json()["code"]) == (409, "inspection.exists")
    assert duplicate.json()["detail"] == {"id": first["id"], "state": "submitted"}
    # the licence was revoked meanwhile: approving its inspection is refused and nothing moves
    with at(2026, 3, 3):
        assert (
            client.post(
                f"/api/v1/licenses/{revoked.identifier}/revoke/", {"reason": "吊销"}
            ).status_code
            == 200
        )
        revoked.refresh_from_db()
        before = (revoked.status, revoked.last_event_seq, revoked.inspected_year)
        refused = client.post(f"/api/v1/inspections/{other['id']}/approve/", {})
    assert (refused.status_code, refused.json()["code"]) == (409, "license.illegal_transition")
    revoked.refresh_from_db()
    assert (revoked.status, revoked.last_event_seq, revoked.inspected_year) == before
    row = Inspection.objects.get(pk=other["id"])
    assert (row.state, row.revision, row.decided_at) == ("submitted", 1, None)
    # approved once; the second approval, and a new submission of the year, are refused
    with at(2026, 3, 4):
        assert client.post(f"/api/v1/inspections/{first['id']}/approve/", {}).status_code == 200
        again = client.post(f"/api/v1/inspections/{first['id']}/approve/", {})
        inspected = submit(client, lic.identifier)
        on_revoked = submit(client, revoked.identifier, year=2026)
    assert (again.status_code, again.json()["code"]) == (409, "inspection.illegal_state")
    assert (inspected.status_code, inspected.json()["code"]) == (
        409,
        "inspection.already_inspected",
    )
    assert (on_revoked.status_code, on_revoked.json()["code"]) == (409, "inspection.license_state")
    lic.refresh_from_db()
    assert [e[0] for e in events(lic)] == ["issue", "inspect"]
    assert Inspection.objects.count() == 2


def test_a_later_year_already_inspected_and_a_revoked_licence_are_refused(
    issuer_user, inspection_type, holder_user
):
    with at(2024, 11, 3):
        lic = issue(issuer_user, inspection_type, number="TH0001")
        gone = issue(issuer_user, inspection_type, number="TH0002")
    client = staff(issuer_user)
    with at(2026, 3, 2):
        created = submit(client, lic.identifier, year=2026).json()
        assert client.post(f"/api/v1/inspections/{created['id']}/approve/", {}).status_code == 200
        earlier = submit(client, lic.identifier, year=2025)
        client.post(f"/api/v1/licenses/{gone.identifier}/revoke/", {"reason": "吊销"})
        revoked = submit(client, gone.identifier, year=2026)
    assert (earlier.status_code, earlier.json()["code"]) == (409, "inspection.already_inspected")
    assert (revoked.status_code, revoked.json()["code"]) == (409, "inspection.license_state")
    assert revoked.json()["message"] == "证照当前状态为“吊销”，不能申请年检"


def test_materials_are_required_and_checked_by_content(issuer_user, inspection_type, holder_user):
    with at(2025, 11, 3):
        lic = issue(issuer_user, inspection_type, number="TH0001")
    with at(2026, 3, 2):
        client = holder_api()
        none = submit(client, lic.identifier, files=[])
        fake = submit(client, lic.identifier, files=[("执照.pdf", b"just text, not a PDF")])
        empty = submit(client, lic.identifier, files=[("执照.pdf", b"")])
    assert none.status_code == 400
    assert (fake.status_code, fake.json()["code"]) == (400, "attachment.type")
    assert empty.status_code == 400
    assert not Inspection.objects.exists()
    assert not License.objects.filter(inspected_year__isnull=False).exists()


def test_a_type_without_annual_inspection_is_refused(issuer_user, license_type, holder_user):
    with at(2025, 11, 3):
        lic = issue(issuer_user, license_type, number="JY0001")
    with at(2026, 3, 2):
        response = submit(staff(issuer_user), lic.identifier)
    assert (response.status_code, response.json()["code"]) == (409, "inspection.not_required")
    assert not Inspection.objects.exists()
