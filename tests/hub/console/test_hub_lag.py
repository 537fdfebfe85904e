"""The sync lag over time at the hub: p50, p95 and max per hour (24 h) or per day (30 days),
province-wide and for one city, from hand-built arrivals with known lags."""

from datetime import timedelta

import pytest
from django.utils import timezone

from provincial_hub.aggregation.selectors import arrival_lag_series, percentile_cont
from shared.federation.models import Arrival
from tests.console_support import console_client

pytestmark = pytest.mark.django_db


def arrive(key, city, at, lag):
    return Arrival.objects.create(
        key=key,
        library_code=city,
        issuer_code="11410100MB0000001X",
        mode="online",
        case_completed_at=at - timedelta(seconds=lag + 1),
        committed_at=at - timedelta(seconds=lag),
        arrived_at=at,
        lag_seconds=lag,
        deadline_at=at + timedelta(days=1),
    )


@pytest.fixture
def hours():
    """Two hours ago: 郑州 1, 2, 3, 4, 100 s and 洛阳 1000 s; three hours ago: 郑州 10, 20 s;
    25 hours ago (outside the 24 h): 郑州 5000 s."""
    this_hour = timezone.localtime().replace(minute=0, second=0, microsecond=0)
    two, three = this_hour - timedelta(hours=2), this_hour - timedelta(hours=3)
    for i, lag in enumerate([1, 2, 3, 4, 100]):
        arrive(f"a{i}", "410100", two + timedelta(minutes=10 + i), lag)
    arrive("b0", "410300", two + timedelta(minutes=59), 1000)
    arrive("c0", "410100", three, 10)
    arrive("c1", "410100", three + timedelta(minutes=30), 20)
    arrive("old", "410100", this_hour - timedelta(hours=25), 5000)
    return two, three


def numbers(series):
    return {b.start: (b.count, b.p50, round(b.p95, 3), b.max) for b in series if b.count}


def test_per_hour_the_percentiles_are_postgresqls_percentile_cont(hours):
    two, three = hours
    # when
    province = arrival_lag_series(scale="hour")
    zhengzhou = arrival_lag_series(scale="hour", city="410100")
    # then: 24 buckets, the last the current hour; 25 hours ago left out
    assert len(province) == 24 and province[-1].start == timezone.localtime().replace(
        minute=0, second=0, microsecond=0
    )
    assert numbers(province) == {
        two: (6, 3.5, 775.0, 1000.0),  # 1 2 3 4 100 1000: p95 at 4.75 → 100 + 900 × 0.75
        three: (2, 15.0, 19.5, 20.0),
    }
    assert numbers(zhengzhou) == {two: (5, 3.0, 80.8, 100.0), three: (2, 15.0, 19.5, 20.0)}
    # the current hour is computed on every call; an ended one once (it changes no more)
    arrive("now", "410100", timezone.now(), 7)
    arrive("c2", "410100", three + timedelta(minutes=40), 30)
    again = arrival_lag_series(scale="hour", city="410100")
    assert (again[-1].count, again[-1].p50) == (1, 7.0)
    assert numbers(again)[three] == (2, 15.0, 19.5, 20.0)
    # the embedded demo's (SQLite) computation agrees with PostgreSQL's
    assert percentile_cont([1, 2, 3, 4, 100], 0.95) == pytest.approx(80.8)
    assert percentile_cont([7.0], 0.95) == 7.0


def test_per_day_over_thirty_days():
    today = timezone.localtime().replace(hour=12, minute=0, second=0, microsecond=0)
    arrive("d0", "410100", today - timedelta(days=2), 30)
    arrive("d1", "410100", today - timedelta(days=2, hours=3), 60)
    arrive("d2", "410300", today - timedelta(days=29), 5)
    arrive("d3", "410100", today - timedelta(days=30), 999)  # before the window
    series = arrival_lag_series(scale="day")
    assert len(series) == 30
    midnight = today.replace(hour=0)
    assert numbers(series) == {
        midnight - timedelta(days=2): (2, 45.0, 58.5, 60.0),
        midnight - timedelta(days=29): (1, 5.0, 5.0, 5.0),
    }


def test_the_dashboard_and_the_city_draw_the_lag_and_list_its_numbers(hours, library_admin):
    two, _ = hours
    operator = console_client(library_admin)
    # when: the dashboard, per hour by default
    page = operator.get("/console/hub/").content.decode()
    # then: three lines and the table's numbers for the whole province
    assert "同步时延 近 24 小时（每小时）：中位数、p95 与最大值" in page
    for line in ("中位数 p50", "p95", "最大"):
        assert f'data-series="{line}"' in page
    row = f'data-bucket="{two:%Y-%m-%d %H:%M}"'
    assert row in page
    after = page.split(row, 1)[1]
    assert 'data-p50="3.500"' in after[:400] and 'data-p95="775.000"' in after[:400]
    assert f"<title>{two:%H:00} 最大：1000.0 秒</title>" in page
    # the city: only its own arrivals
    city = operator.get("/console/hub/cities/410100/").content.decode()
    after = city.split(row, 1)[1]
    assert 'data-p50="3.000"' in after[:400] and 'data-p95="80.800"' in after[:400]
    assert "1000.0 秒" not in city
    # per day: today's and yesterday's arrivals in their days
    daily = operator.get("/console/hub/?lag=day").content.decode()
    assert "同步时延 近 30 天（每天）" in daily and 'href="?lag=hour#lag"' in daily
    assert operator.get("/console/hub/?lag=bogus").status_code == 200  # the default, per hour


def test_the_supervisor_reads_the_lag_and_agency_staff_are_refused(
    hours, supervisor_user, issuer_user
):
    assert "同步时延" in console_client(supervisor_user).get("/console/hub/").content.decode()
    # staff of an agency (no library role, no city of theirs to watch)
    nobody = console_client(issuer_user)
    for url in ("/console/hub/", "/console/hub/?lag=day", "/console/hub/cities/410100/"):
        response = nobody.get(url)
        assert response.status_code == 403 and "无权访问此页面" in response.content.decode()
