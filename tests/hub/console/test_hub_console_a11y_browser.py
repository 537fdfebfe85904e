"""Accessibility of the hub's screens in a real headless Chromium (issue #15 item 8): the
landing page, the aggregation dashboard with its chart, a city, compliance and the public
criticism list pass the project's checker (tests/a11y/a11y_check.js)."""

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from provincial_hub.compliance import services
from shared.federation.models import InboundCursor
from shared.statistics.models import Counter
from tests.a11y import assert_accessible
from tests.console_browser import sign_in
from tests.console_support import code_now, enrol
from tests.hub.compliance.conftest import ZZ

pytestmark = pytest.mark.django_db(transaction=True)


def test_hub_screens_pass_the_checker(browser_page, supervisor_user, zz_agency, zz_peer):
    # given: 郑州 has sent its changes, has a notice and this month's counters
    now = timezone.now()
    InboundCursor.objects.create(
        sender=ZZ, high_water_mark=7, last_event_at=now, last_envelope_at=now
    )
    notice = services.notice_issue(
        actor=supervisor_user, rule="aggregation.late", agency=zz_agency, summary="超时汇聚 6 张"
    )
    Counter.objects.create(
        month=timezone.localdate().replace(day=1),
        library_code=ZZ,
        agency_code=zz_agency.code,
        type_code="1" * 21,
        metric="issue",
        count=9,
    )
    enrol(supervisor_user)
    page = browser_page()
    for url in ("/", "/public/criticism/"):
        page.goto(url)
        assert_accessible(page, url)
    sign_in(page, supervisor_user.username, code_now())
    for url in (
        reverse("hub-console-dashboard"),
        reverse("hub-console-city", args=[ZZ]),
        reverse("hub-console-sectors"),
        reverse("hub-compliance-notices"),
        reverse("hub-compliance-notice", args=[notice.pk]),
        reverse("hub-compliance-issue"),
        reverse("hub-compliance-runs"),
        reverse("console-statistics"),
        reverse("console-audit"),
    ):
        response = page.goto(url)
        assert response is not None and response.status == 200, url
        assert_accessible(page, url)
    # the charts have a name and a table of the same figures beside them
    page.goto(reverse("hub-console-dashboard"))
    expect(page.get_by_role("img", name="近 30 天每日汇聚证照数")).to_be_visible()
    expect(page.get_by_test_id("chart-table")).to_contain_text("平均时延（秒）")
