"""GET /metrics at the hub: reconciliation per city, rectification notices and the cities'
review requests (mirrors) due by the next working day or overdue, per city that must answer."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from provincial_hub.compliance.models import RectificationNotice
from shared.calendars.selectors import workday_calendar
from shared.federation.models import Peer, ReconcileRun
from tests.shared.inspections.conftest import issue
from tests.shared.ops.test_metrics import lib, scrape
from tests.shared.ops.test_metrics_work import repair, review

pytestmark = pytest.mark.django_db
ZZ, LY, KF = "410100", "410300", "410200"


def value(m: dict, name: str, **labels) -> float:
    return m[(name, lib(**labels))]


def test_the_hub_reports_the_last_reconciliation_with_every_city(client):
    # given: 郑州 clean, 洛阳 with differences found and repaired both ways, 开封 not active
    for code in (ZZ, LY, KF):
        Peer.objects.create(code=code, kid=f"k{code}", public_pem="p", active=code != KF)
    now = timezone.now()
    for peer, differences, repairs in (
        (ZZ, 0, []),
        (LY, 5, [repair("license", "up", 3), repair("license", "down", 2)]),
        (KF, 7, []),
    ):
        ReconcileRun.objects.create(
            scope=peer,
            peer=peer,
            state="done",
            differences=differences,
            repairs=repairs,
            finished_at=now,
        )

    # when
    m = scrape(client)

    # then
    assert value(m, "elicense_reconcile_differences", peer=ZZ, scope=ZZ) == 0
    assert value(m, "elicense_reconcile_differences", peer=LY, scope=LY) == 5
    for direction, count in (("up", 3), ("down", 2)):
        labels = {"peer": LY, "scope": LY, "kind": "license", "direction": direction}
        assert value(m, "elicense_reconcile_repaired", **labels) == count
    assert ("elicense_reconcile_differences", lib(peer=KF, scope=KF)) not in m


def notice(*, city: str, deadline, state: str = "issued", n: int) -> None:
    RectificationNotice.objects.create(
        rule="aggregation.late",
        city_code=city,
        subject_key=f"{city}{n:012d}",
        period=f"2026-{n:02d}",
        summary="汇聚逾期",
        issued_at=timezone.now(),
        deadline=deadline,
        state=state,
    )


def test_notices_and_the_cities_reviews_due_soon_or_overdue_per_city(
    client, issuer_user, license_type
):
    # given
    today = timezone.localdate()
    calendar = workday_calendar()
    next_workday = calendar.add_workdays(today, 1).day
    later = calendar.add_workdays(today, 3).day
    yesterday = today - timedelta(days=1)
    notice(city=ZZ, deadline=today, n=1)  # at risk
    notice(city=ZZ, deadline=next_workday, state="reopened", n=2)  # at risk
    notice(city=ZZ, deadline=next_workday, state="answered", n=3)  # waits for the supervisor
    notice(city=ZZ, deadline=later, n=4)  # not yet
    notice(city=LY, deadline=yesterday, state="escalated", n=5)  # overdue, criticised
    notice(city=LY, deadline=yesterday, state="accepted", n=6)  # closed
    lic = issue(issuer_user, license_type, number="JY1410000METRICS1")
    review(lic, deadline=next_workday, library_code=ZZ)  # 郑州's request, mirrored
    review(lic, deadline=yesterday, library_code=LY)
    review(lic, deadline=today)  # the hub's own

    # when
    m = scrape(client)

    # then
    hub = settings.LIBRARY_CODE
    at_risk = "elicense_deadlines_at_risk"
    overdue = "elicense_deadlines_overdue"
    assert value(m, at_risk, kind="notice", owner=ZZ) == 2
    assert value(m, overdue, kind="notice", owner=ZZ) == 0
    assert value(m, at_risk, kind="notice", owner=LY) == 0
    assert value(m, overdue, kind="notice", owner=LY) == 1
    assert value(m, at_risk, kind="notice", owner=hub) == 0
    assert value(m, at_risk, kind="review", owner=ZZ) == 1
    assert value(m, overdue, kind="review", owner=LY) == 1
    assert value(m, at_risk, kind="review", owner=hub) == 1
