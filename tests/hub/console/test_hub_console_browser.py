"""The hub's dashboard in a real headless Chromium: the operator signs in with a one-time
code and sees the 18 cities, each with its health, the sync lag over time (per hour, then
per day), drills into one city, and opens the sector libraries and probes one."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from provincial_hub.aggregation.models import SectorCall, SectorLibrary
from shared.conf.divisions import CITIES
from shared.federation.models import Arrival, InboundCursor
from tests.console_browser import nav, sign_in
from tests.console_support import code_now, enrol
from tests.federation.sector_reference import SectorReference

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_operator_sees_the_eighteen_cities_and_opens_one(browser_page, library_admin):
    # given: 郑州 has sent its changes, one of them 42 s after its commit
    now = timezone.now()
    InboundCursor.objects.create(
        sender="410100", high_water_mark=7, last_event_at=now, last_envelope_at=now
    )
    Arrival.objects.create(
        key="k1",
        library_code="410100",
        issuer_code="11410100MB0000001X",
        mode="online",
        case_completed_at=now - timedelta(minutes=1),
        committed_at=now - timedelta(seconds=42),
        arrived_at=now,
        lag_seconds=42.0,
        deadline_at=now + timedelta(days=1),
    )
    enrol(library_admin)
    page = browser_page()
    # when
    sign_in(page, "admin", code_now())
    nav(page, "汇聚总览").click()
    # then
    cities = page.get_by_test_id("cities").locator("section.city")
    expect(cities).to_have_count(len(CITIES))
    zhengzhou = page.locator('section[data-city="410100"]')
    expect(zhengzhou).to_have_class("card city healthy")
    expect(zhengzhou.locator(".tag")).to_have_text("正常")
    expect(page.locator('section[data-city="419001"]')).to_contain_text("济源")
    expect(page.get_by_role("img", name="近 30 天每日汇聚证照数")).to_be_visible()
    # the sync lag: per hour, then per day, the arrival's 42 s in both
    expect(page.get_by_role("img", name="同步时延 近 24 小时（每小时）")).to_be_visible()
    page.get_by_role("link", name="近 30 天（每天）").click()
    expect(page.get_by_role("img", name="同步时延 近 30 天（每天）")).to_be_visible()
    page.get_by_text("数据表（").click()  # the lag chart's table (the daily chart has its own)
    expect(page.get_by_test_id("lag-table").locator("tbody tr")).to_have_count(1)
    expect(page.get_by_test_id("lag-table")).to_contain_text("42.0 秒")
    page.locator('section[data-city="410100"]').get_by_role("link").click()
    expect(page.get_by_role("heading", name="对账记录")).to_be_visible()
    expect(page.get_by_role("button", name="发起对账")).to_be_visible()
    expect(page.get_by_role("img", name="同步时延 近 24 小时（每小时）")).to_be_visible()
    # the sector libraries: a real one answers the probe
    with SectorReference([]) as sector:
        SectorLibrary.objects.create(
            code="yjglt", name="省应急管理厅行业库", base_url=sector.url, type_codes=["T1"]
        )
        nav(page, "行业电子证照库").click()
        card = page.locator('section[data-sector="yjglt"]')
        expect(card.locator(".tag")).to_have_text("无调用")
        card.get_by_role("button", name="检测 省应急管理厅行业库").click()
        expect(page.get_by_text("省应急管理厅行业库 检测通过")).to_be_visible()
        expect(page.locator('section[data-sector="yjglt"] .tag')).to_have_text("正常")
    assert SectorCall.objects.get().kind == "probe"
