"""The hub's dashboard in a real headless Chromium: the operator signs in with a one-time
code and sees the 18 cities, each with its health, and drills into one."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from shared.conf.divisions import CITIES
from shared.federation.models import InboundCursor
from tests.console_browser import nav, sign_in
from tests.console_support import code_now, enrol

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_operator_sees_the_eighteen_cities_and_opens_one(browser_page, library_admin):
    # given: 郑州 has sent its changes
    now = timezone.now()
    InboundCursor.objects.create(
        sender="410100", high_water_mark=7, last_event_at=now, last_envelope_at=now
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
    zhengzhou.get_by_role("link").click()
    expect(page.get_by_role("heading", name="对账记录")).to_be_visible()
    expect(page.get_by_role("button", name="发起对账")).to_be_visible()
