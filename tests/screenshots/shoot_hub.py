"""`make screenshots`, the hub's screens (run under the hub's settings): the hub's landing page,
the aggregation dashboard with the sync lag over time, and the sector libraries' health."""

import random
from datetime import timedelta

import pytest
from django.utils import timezone

from provincial_hub.aggregation.models import SectorCall, SectorLibrary
from shared.federation.models import Arrival, InboundCursor
from tests.console_browser import nav, sign_in
from tests.console_support import code_now, enrol
from tests.screenshots.screens import DESKTOP, OUT, shoot

pytestmark = pytest.mark.django_db(transaction=True)


def lags_of_a_day():
    """郑州 and 洛阳 arrivals over the last 24 hours, a few seconds late each, slower at noon."""
    rng = random.Random(15)
    now = timezone.now()
    rows = []
    for i in range(400):
        at = now - timedelta(minutes=rng.uniform(0, 24 * 60))
        lag = rng.lognormvariate(1.2, 0.8) * (4 if 11 <= timezone.localtime(at).hour <= 13 else 1)
        rows.append(
            Arrival(
                key=f"shot-{i}",
                library_code=rng.choice(["410100", "410300"]),
                issuer_code="11410100MB0000001X",
                mode="online",
                case_completed_at=at - timedelta(seconds=lag + 60),
                committed_at=at - timedelta(seconds=lag),
                arrived_at=at,
                lag_seconds=lag,
                deadline_at=at + timedelta(days=1),
            )
        )
    Arrival.objects.bulk_create(rows)


def sector_libraries():
    now = timezone.now()
    libraries = [
        ("yjglt", "省应急管理厅行业库", "https://yjglt.henan.gov.cn/elicense", 120.0, []),
        ("jtt", "省交通运输厅行业库", "https://jtt.henan.gov.cn/zzk", 2600.0, []),
        ("zjt", "省住房和城乡建设厅行业库", "https://hnjs.henan.gov.cn/zzk", 300.0, [5]),
        ("gat", "省公安厅行业库", "https://gat.henan.gov.cn/zzk", 80.0, [0, 1, 2]),
    ]
    for code, name, url, latency, failed in libraries:
        lib = SectorLibrary.objects.create(code=code, name=name, base_url=url, type_codes=["T"])
        SectorCall.objects.bulk_create(
            SectorCall(
                library=lib,
                kind="query",
                ok=i not in failed,
                latency_ms=latency,
                error="" if i not in failed else "HTTPSConnectionPool: Read timed out",
                at=now - timedelta(minutes=10 * i),
            )
            for i in range(8)
        )
    SectorLibrary.objects.create(
        code="sthjt",
        name="省生态环境厅行业库",
        base_url="https://sthjt.henan.gov.cn/zzk",
        active=False,
    )


def test_hub_screens(browser_page, library_admin):
    now = timezone.now()
    for city in ("410100", "410300"):  # the two cities the lag chart's arrivals came from
        InboundCursor.objects.create(
            sender=city, high_water_mark=7, last_event_at=now, last_envelope_at=now
        )
    lags_of_a_day()
    sector_libraries()
    enrol(library_admin)
    page = browser_page()
    page.set_viewport_size(DESKTOP)
    page.goto("/")
    shoot(page, "hub-landing")
    sign_in(page, library_admin.username, code_now())
    nav(page, "汇聚总览").click()
    shoot(page, "hub-dashboard")
    page.locator("#lag").screenshot(path=str(OUT / "hub-lag.png"), animations="disabled")
    nav(page, "行业电子证照库").click()
    shoot(page, "hub-sectors")
