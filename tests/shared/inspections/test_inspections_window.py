"""The inspection window: on the licence type (validated, in the catalogue API and the type's
snapshot), and a submission before it opens refused with 409."""

from datetime import date

import pytest

from shared.catalog.models import LicenseType
from shared.domain.errors import DomainError
from shared.domain.windows import parse_window
from shared.federation.models import OutboxEvent
from shared.federation.snapshots import type_snapshot
from shared.inspections.models import Inspection
from tests.shared.inspections.conftest import at, issue, staff, submit
from tests.support import DEFINER, SURFACE_SCHEMA, make_type

pytestmark = pytest.mark.django_db


def test_a_window_is_two_days_of_one_year():
    window = parse_window("01-01", "06-30")
    assert (window.opens(2026), window.closes(2026)) == (date(2026, 1, 1), date(2026, 6, 30))
    assert window.last_closed_year(date(2026, 6, 30)) == 2025
    assert window.last_closed_year(date(2026, 7, 1)) == 2026
    for start, end, field in [
        ("1-1", "06-30", "inspection_window_start"),
        ("01-01", "06-31", "inspection_window_end"),
        ("02-29", "06-30", "inspection_window_start"),
        ("13-01", "12-31", "inspection_window_start"),
        ("06-30", "06-30", "inspection_window_end"),
        ("07-01", "01-31", "inspection_window_end"),  # would wrap over New Year
    ]:
        with pytest.raises(DomainError) as caught:
            parse_window(start, end)
        assert (caught.value.code, caught.value.detail) == (
            "catalog.inspection_window",
            {"field": field},
        )


def _create(client, seq, **fields):
    body = {
        "type_code": f"{DEFINER}{seq:03d}",
        "name": "特种行业许可证",
        "definer_name": "公安部",
        "definer_level": "national",
        "issuer_level": "city",
        "holder_category": "legal",
        "surface_schema": SURFACE_SCHEMA,
        **fields,
    }
    return client.post("/api/v1/catalog/types/", body, format="json")


def test_the_catalogue_api_validates_and_shows_the_window(issuer_user):
    client = staff(issuer_user)
    cases = [
        (
            {"annual_inspection": True},
            "需要年检的证照类型必须设置年检时段（开始与截止日期，MM-DD）",
        ),
        (
            {"annual_inspection": True, "inspection_window_start": "03-01"},
            "需要年检的证照类型必须设置年检时段（开始与截止日期，MM-DD）",
        ),
        (
            {"inspection_window_start": "01-01", "inspection_window_end": "06-30"},
            "未要求年检的证照类型不能设置年检时段",
        ),
        (
            {
                "annual_inspection": True,
                "inspection_window_start": "06-30",
                "inspection_window_end": "01-01",
            },
            "年检截止日期必须晚于开始日期，且在同一年内（不跨年）",
        ),
    ]
    for n, (fields, message) in enumerate(cases, start=10):
        response = _create(client, n, **fields)
        assert response.status_code == 400, response.json()
        assert (response.json()["code"], response.json()["message"]) == (
            "catalog.inspection_window",
            message,
        )
    assert not LicenseType.objects.exists()
    created = _create(
        client,
        20,
        annual_inspection=True,
        inspection_window_start="01-01",
        inspection_window_end="06-30",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["inspection_window_start"], body["inspection_window_end"]) == ("01-01", "06-30")
    # a draft's window may change; the published type's rule is frozen with it
    code = body["type_code"]
    moved = client.patch(
        f"/api/v1/catalog/types/{code}/", {"inspection_window_end": "05-31"}, format="json"
    )
    assert moved.status_code == 200 and moved.json()["inspection_window_end"] == "05-31"
    assert client.post(f"/api/v1/catalog/types/{code}/publish/").status_code == 200
    frozen = client.patch(
        f"/api/v1/catalog/types/{code}/", {"inspection_window_end": "06-30"}, format="json"
    )
    assert (frozen.status_code, frozen.json()["code"]) == (409, "catalog.type_frozen")


def test_the_window_travels_in_the_type_snapshot(issuer_user, inspection_type):
    snapshot = type_snapshot(inspection_type)
    assert (snapshot["inspection_window_start"], snapshot["inspection_window_end"]) == (
        "01-01",
        "06-30",
    )
    sent = OutboxEvent.objects.filter(kind="catalog.type").order_by("seq").last()
    assert sent.payload["type"]["inspection_window_end"] == "06-30"


def test_a_submission_before_the_window_opens_is_refused(issuer_user):
    spring = make_type(
        issuer_user,
        seq=6,
        requires_review=False,
        annual_inspection=True,
        inspection_window_start="03-01",
        inspection_window_end="05-31",
    )
    client = staff(issuer_user)
    with at(2025, 11, 3):
        lic = issue(issuer_user, spring, number="TH0001")
    with at(2026, 2, 10):
        early = submit(client, lic.identifier)
        next_year = submit(client, lic.identifier, year=2027)
        before_issue = submit(client, lic.identifier, year=2024)
    assert early.status_code == 409
    assert early.json() == {
        "code": "inspection.window_not_open",
        "message": "2026 年度年检时段为2026年03月01日至2026年05月31日，尚未开始，请于2026年03月01日起提交",
        "detail": {"year": 2026, "opens": "2026-03-01", "closes": "2026-05-31"},
    }
    assert (next_year.status_code, next_year.json()["code"]) == (409, "inspection.window_not_open")
    assert (before_issue.status_code, before_issue.json()["code"]) == (400, "inspection.year")
    assert not Inspection.objects.exists()
    # on the first day of the window, and after it closed (late), it is accepted
    with at(2026, 3, 1, hour=0):
        assert submit(client, lic.identifier).status_code == 201
    with at(2026, 9, 1):
        assert submit(client, lic.identifier, year=2025).status_code == 201
