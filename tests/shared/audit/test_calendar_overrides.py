"""`/api/v1/calendar/overrides/`: the library administrator sets and removes working-day
overrides (audited); the deadlines follow; nobody else may."""

from datetime import date

import pytest

from shared.calendars.models import WorkdayOverride
from shared.calendars.selectors import workday_calendar
from tests.shared.audit.conftest import rows

pytestmark = pytest.mark.django_db
URL = "/api/v1/calendar/overrides/"


def test_the_library_admin_sets_lists_and_removes_overrides(admin):
    # 2026-10-10 is a Saturday and a make-up working day; the admin marks it a rest day
    assert workday_calendar().is_workday(date(2026, 10, 10))[0] is True
    created = admin.put(f"{URL}2026-10-10/", {"is_workday": False, "note": "停电"}, format="json")
    assert created.status_code == 201
    assert created.json() | {"updated_at": None} == {
        "day": "2026-10-10",
        "is_workday": False,
        "note": "停电",
        "updated_at": None,
    }
    assert workday_calendar().is_workday(date(2026, 10, 10))[0] is False
    replaced = admin.put(f"{URL}2026-10-10/", {"is_workday": True}, format="json")
    assert replaced.status_code == 200 and replaced.json()["note"] == ""
    listed = admin.get(URL).json()
    assert [(r["day"], r["is_workday"]) for r in listed["results"]] == [("2026-10-10", True)]
    assert admin.delete(f"{URL}2026-10-10/").status_code == 204
    assert not WorkdayOverride.objects.exists()
    assert [e.action for e in rows(target_type="calendar.override")] == [
        "calendar.override.set",
        "calendar.override.set",
        "calendar.override.delete",
    ]
    second = rows("calendar.override.set")[1]
    assert second.before["is_workday"] is False and second.after["is_workday"] is True


def test_removing_what_is_not_there_is_404_and_a_bad_day_400(admin):
    missing = admin.delete(f"{URL}2026-10-11/")
    assert missing.status_code == 404
    assert missing.json()["code"] == "calendar.override_not_found"
    for bad in ("2026-02-30", "tomorrow"):
        response = admin.put(f"{URL}{bad}/", {"is_workday": True}, format="json")
        assert response.status_code == 400
        assert response.json()["code"] == "calendar.day_invalid"
    assert admin.put(f"{URL}2026-10-11/", {}, format="json").status_code == 400
    assert not WorkdayOverride.objects.exists() and rows(target_type="calendar.override") == []


@pytest.mark.parametrize("role", ["issuer", "consumer", "supervisor"])
def test_only_the_library_admin(request, role):
    WorkdayOverride.objects.create(day=date(2026, 10, 12), is_workday=False)
    client = request.getfixturevalue(role)
    for method, body in (("get", None), ("put", {"is_workday": True}), ("delete", None)):
        path = URL if method == "get" else f"{URL}2026-10-12/"
        response = getattr(client, method)(path, body, format="json")
        assert response.status_code == 403
        assert response.json()["code"] == "permission.library_admin_required"
    assert WorkdayOverride.objects.get().is_workday is False
    assert rows(target_type="calendar.override") == []
