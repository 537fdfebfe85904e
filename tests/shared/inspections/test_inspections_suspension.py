"""When the window closes, beat suspends the licences not inspected (with the reason, a lifecycle
event that syncs); a late approval resumes exactly those."""

from io import StringIO

import pytest
from django.core.management import call_command

from shared.federation.models import OutboxEvent
from shared.inspections.models import Inspection
from shared.inspections.suspension import inspection_close_windows
from shared.inspections.tasks import close_window
from shared.licenses.models import License
from tests.shared.inspections.conftest import (
    OTHER_HOLDER_CODE,
    at,
    events,
    holder_api,
    issue,
    staff,
    submit,
)

pytestmark = pytest.mark.django_db

REASON = "未按期完成年检（2026 年度）"
CAUSE = {"cause": "inspection", "year": 2026}


@pytest.fixture
def world(issuer_user, inspection_type, holder_user):
    """Licences of the type (window 01-01 – 06-30), each in another situation when the 2026
    window closes."""
    client = staff(issuer_user)
    with at(2025, 11, 3):
        names = ["waiting", "inspected", "suspended_by_issuer", "mirror", "expired"]
        lic = {
            name: issue(issuer_user, inspection_type, number=f"TH{i:04d}", code=OTHER_HOLDER_CODE)
            for i, name in enumerate(names)
        }
        lic["missed"] = issue(issuer_user, inspection_type, number="TH0100")  # the holder's
    with at(2026, 2, 1):
        lic["new_in_window"] = issue(issuer_user, inspection_type, number="TH0200")
    with at(2026, 3, 2):
        waiting = submit(client, lic["waiting"].identifier).json()
        done = submit(client, lic["inspected"].identifier).json()
        assert client.post(f"/api/v1/inspections/{done['id']}/approve/", {}).status_code == 200
        assert (
            client.post(
                f"/api/v1/licenses/{lic['suspended_by_issuer'].identifier}/suspend/",
                {"reason": "停业整顿"},
            ).status_code
            == 200
        )
    # a licence held here but issued in another library (the hub's mirror of a city's)
    License.objects.filter(pk=lic["mirror"].pk).update(library_code="410300")
    License.objects.filter(pk=lic["expired"].pk).update(status="expired")
    return {"licences": lic, "waiting": waiting, "client": client}


def state(lic: License) -> tuple:
    lic.refresh_from_db()
    return (lic.status, lic.inspected_year)


def test_the_window_closes_and_only_the_uninspected_are_suspended(world):
    lic = world["licences"]
    # the window is open until the end of 30 June: nothing happens on that day
    with at(2026, 6, 30, hour=23):
        assert inspection_close_windows() == 0
    # when: the first run after it closed (the beat task)
    OutboxEvent.objects.all().delete()
    with at(2026, 7, 1, hour=0):
        assert close_window.apply().get() == 1
    # then: only the licence issued before the window, not inspected and not waiting
    assert state(lic["missed"]) == ("suspended", None)
    assert events(lic["missed"])[-1] == ("suspend", "valid", "suspended", REASON, CAUSE)
    assert lic["missed"].events.order_by("seq").last().actor is None
    assert state(lic["waiting"]) == ("valid", None)  # submitted in time, the issuer's turn
    assert state(lic["inspected"]) == ("valid", 2026)
    assert state(lic["new_in_window"]) == ("valid", None)  # issued after the window opened
    assert state(lic["suspended_by_issuer"]) == ("suspended", None)
    assert events(lic["suspended_by_issuer"])[-1][3] == "停业整顿"
    assert state(lic["mirror"]) == ("valid", None)  # suspended where it was issued
    assert state(lic["expired"]) == ("expired", None)
    # the suspension goes up like any licence event
    sent = OutboxEvent.objects.get()
    assert (sent.kind, sent.payload["event"]["action"], sent.payload["event"]["data"]) == (
        "license.event",
        "suspend",
        CAUSE,
    )
    # idempotent: the next day's run (and the command) suspend nothing more
    with at(2026, 7, 2):
        out = StringIO()
        call_command("inspections", "close-window", stdout=out)
        assert out.getvalue().strip() == "suspended=0"
    assert lic["missed"].events.count() == 2


def test_a_late_approval_resumes_exactly_the_licences_suspended_for_inspection(world):
    lic, client = world["licences"], world["client"]
    with at(2026, 7, 1, hour=0):
        assert inspection_close_windows() == 1
    # when: the holder submits late and the issuer approves
    with at(2026, 7, 10):
        late = submit(holder_api(), lic["missed"].identifier)
        assert late.status_code == 201, late.json()
        approved = client.post(f"/api/v1/inspections/{late.json()['id']}/approve/", {})
    # then: the year is recorded and the licence resumes, two events
    assert approved.status_code == 200
    assert (approved.json()["late"], approved.json()["license_status"]) == (True, "valid")
    assert state(lic["missed"]) == ("valid", 2026)
    assert events(lic["missed"])[-3:] == [
        ("suspend", "valid", "suspended", REASON, CAUSE),
        ("inspect", "suspended", "suspended", "", {"year": 2026}),
        ("resume", "suspended", "valid", "年检通过，恢复", {}),
    ]
    # a licence the issuer suspended for another reason records the year but stays suspended
    with at(2026, 7, 11):
        other = submit(client, lic["suspended_by_issuer"].identifier).json()
        response = client.post(f"/api/v1/inspections/{other['id']}/approve/", {})
    assert response.status_code == 200 and response.json()["late"] is True
    assert state(lic["suspended_by_issuer"]) == ("suspended", 2026)
    assert [e[0] for e in events(lic["suspended_by_issuer"])] == ["issue", "suspend", "inspect"]
    # the submission that waited through the close is approved late, without a resume
    with at(2026, 7, 12):
        waited = client.post(f"/api/v1/inspections/{world['waiting']['id']}/approve/", {})
    assert waited.json()["late"] is True
    assert [e[0] for e in events(lic["waiting"])] == ["issue", "inspect"]
    # and the next run leaves every one of them alone
    with at(2026, 7, 13):
        assert inspection_close_windows() == 0


def test_a_submission_refused_after_the_close_is_suspended_by_the_next_run(world):
    lic, client = world["licences"], world["client"]
    with at(2026, 7, 1, hour=0):
        assert inspection_close_windows() == 1
    with at(2026, 7, 3):
        refused = client.post(
            f"/api/v1/inspections/{world['waiting']['id']}/refuse/", {"reason": "材料不全"}
        )
        assert refused.status_code == 200
    with at(2026, 7, 4, hour=0):
        assert inspection_close_windows() == 1
    assert state(lic["waiting"]) == ("suspended", None)
    assert Inspection.objects.get(pk=world["waiting"]["id"]).state == "refused"


def test_an_approval_of_an_earlier_year_does_not_resume_a_later_suspension(
    issuer_user, inspection_type
):
    client = staff(issuer_user)
    with at(2024, 11, 3):
        lic = issue(issuer_user, inspection_type, number="TH0001")
    # the 2025 window closed: suspended for 2025
    with at(2025, 7, 1, hour=0):
        assert inspection_close_windows() == 1
    with at(2026, 7, 1, hour=0):
        assert inspection_close_windows() == 0  # already suspended
        for_2025 = submit(client, lic.identifier, year=2025).json()
        assert client.post(f"/api/v1/inspections/{for_2025['id']}/approve/", {}).status_code == 200
    # resumed (the suspension was for 2025); the next run suspends it again for 2026
    assert state(lic) == ("valid", 2025)
    with at(2026, 7, 2):
        assert inspection_close_windows() == 1
    assert events(lic)[-1] == ("suspend", "valid", "suspended", REASON, CAUSE)
    # an approval of 2025 again is not possible; 2026's resumes it
    with at(2026, 7, 3):
        again = submit(client, lic.identifier, year=2025)
        assert again.json()["code"] == "inspection.already_inspected"
        for_2026 = submit(client, lic.identifier, year=2026).json()
        client.post(f"/api/v1/inspections/{for_2026['id']}/approve/", {})
    assert state(lic) == ("valid", 2026)
