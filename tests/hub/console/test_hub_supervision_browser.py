"""The supervisor at the hub in a real headless Chromium: signs in with a one-time code, opens
the notices, accepts an answered one with a reason, and reads the statistics chart."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from provincial_hub.compliance import services
from shared.statistics.models import Counter
from tests.console_browser import nav, sign_in
from tests.console_support import code_now, enrol
from tests.hub.compliance.conftest import ZZ

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_supervisor_accepts_an_answer_and_reads_the_statistics(
    browser_page, supervisor_user, zz_agency, zz_peer
):
    # given: a notice 郑州 has answered, and this month's counters
    notice = services.notice_issue(
        actor=supervisor_user,
        rule="aggregation.late",
        agency=zz_agency,
        summary="近 30 天超时汇聚 6 张",
    )
    who = services.Who(actor=None, name="郑州经办人（c410100_scj_1）", library_code=ZZ)
    services.notice_answer(notice_id=notice.pk, text="已补报逾期证照", who=who)
    month = timezone.localdate().replace(day=1)
    for metric, n in (("issue", 9), ("query", 4), ("arrival_late", 2)):
        Counter.objects.create(
            month=month,
            library_code=ZZ,
            agency_code=zz_agency.code,
            type_code="1" * 21,
            metric=metric,
            count=n,
        )
    enrol(supervisor_user)
    page = browser_page()
    # when: signed in with a one-time code, the supervisor accepts the answer
    sign_in(page, "supervisor", code_now())
    expect(page.get_by_test_id("supervisor-landing")).to_be_visible()
    nav(page, "整改通知").click()
    row = page.locator(f'tr[data-notice="{notice.pk}"]')
    expect(row).to_contain_text("已答复，待验收")
    row.get_by_role("link", name="郑州市市场监督管理局").click()
    expect(page.get_by_test_id("steps")).to_contain_text("郑州经办人（c410100_scj_1）")
    page.get_by_label("验收意见或退回理由").fill("补报完整，验收通过")
    page.get_by_role("button", name="验收通过").click()
    # then
    expect(page.get_by_role("status")).to_contain_text("已验收，整改通知关闭")
    expect(page.get_by_test_id("steps")).to_contain_text("补报完整，验收通过")
    notice.refresh_from_db()
    assert notice.state == "accepted"
    # and the statistics chart of this month, by city
    nav(page, "统计分析").click()
    chart = page.get_by_role("img", name=f"{month:%Y 年 %m 月}按证照库（市）的主要指标")
    expect(chart).to_be_visible()
    # one city, five bars (签发 9, 变更 0, 查询 4, 异议 0, 迟到 2), the tallest its issues
    expect(chart.locator("rect.metric")).to_have_count(5)
    expect(chart.locator("rect.metric").first).to_contain_text("签发：9")
    expect(page.get_by_test_id("statistics")).to_contain_text("郑州")
    expect(page.get_by_label("月份")).to_have_value(f"{month:%Y-%m}")
