"""The console in a real headless Chromium (Playwright) against a live server: an issuer signs
in with a one-time code, issues a licence through the generated form (after its inline error
for a bad holder code), finds it, suspends it behind the confirmation with a reason; a
consumer's purpose-bound query then shows it suspended."""

import re

import pytest
from playwright.sync_api import expect

from shared.access.models import Grant
from shared.licenses.models import License
from tests.console_browser import nav, sign_in
from tests.console_support import code_now, enrol
from tests.shared.access.conftest import MATTER, grant
from tests.support import make_uscc

pytestmark = pytest.mark.django_db(transaction=True)
HOLDER = make_uscc(dept="91", area="410100", body="MA3X7Y8L")


def issue_through_the_form(page, license_type) -> str:
    nav(page, "证照目录").click()
    page.get_by_role("row", name=re.compile(license_type.name)).get_by_role(
        "link", name="签发"
    ).click()
    page.get_by_label("证照编号（照面打印的编号）").fill("JY14101000077777")
    page.get_by_label("持证主体名称").fill("郑州豫中食品有限公司")
    page.get_by_label("持证主体代码", exact=False).last.fill(HOLDER[:-1] + "0")  # wrong check digit
    page.get_by_label("经营者名称").fill("郑州豫中食品有限公司")
    page.get_by_label("经营项目").fill("预包装食品销售")
    page.get_by_role("button", name="签发", exact=True).click()
    # the server's refusal, beside the field
    expect(page.get_by_test_id("holder-code-error")).to_contain_text("校验")
    assert License.objects.count() == 0
    page.get_by_label("持证主体代码", exact=False).last.fill(HOLDER)
    page.get_by_role("button", name="签发", exact=True).click()
    expect(page.get_by_test_id("status")).to_have_text("有效")
    return page.get_by_test_id("identifier").inner_text()


def test_issue_find_suspend_then_a_consumer_queries(
    browser_page,
    issuer_user,
    consumer_user,
    consumer_agency,
    license_type,
):
    # given
    enrol(issuer_user)
    enrol(consumer_user)
    grant(consumer_agency, license_type)
    page = browser_page()
    # when: the issuer signs in with password and one-time code
    sign_in(page, "issuer_1", code_now())
    expect(page.get_by_test_id("username")).to_have_text("issuer_1")
    expect(page.get_by_test_id("agency")).to_contain_text(issuer_user.agency.code)
    identifier = issue_through_the_form(page, license_type)
    # then: the search finds it
    nav(page, "证照查询").click()
    page.get_by_label("标识 / 编号 / 持证主体名称").fill("豫中")
    page.get_by_role("button", name="查询").click()
    page.get_by_role("link", name=license_type.name).first.click()
    expect(page.get_by_test_id("identifier")).to_have_text(identifier)
    # suspended behind the confirmation, with its reason
    page.get_by_role("link", name="暂扣").click()
    expect(page.get_by_role("heading", name="确认暂扣")).to_be_visible()
    page.get_by_label("暂扣原因").fill("经营场所不符合要求，责令整改")
    page.get_by_role("button", name="确认暂扣").click()
    expect(page.get_by_test_id("status")).to_have_text("暂扣")
    expect(page.get_by_text("经营场所不符合要求，责令整改")).to_be_visible()
    assert License.objects.get(identifier=identifier).status == "suspended"
    # and a consumer's purpose-bound query shows it, suspended
    counter = browser_page()
    sign_in(counter, "consumer_1", code_now())
    nav(counter, "用证查询").click()
    counter.get_by_label("持证主体代码类型").select_option("001")
    counter.locator("#f-holder_code").fill(HOLDER)
    counter.get_by_label("办理事项").select_option(MATTER)
    counter.get_by_label("用证事由").fill("办理食品经营许可变更，核验原证")
    counter.get_by_role("button", name="查询").click()
    result = counter.get_by_test_id("query-result")
    expect(result).to_contain_text(identifier)
    expect(result).to_contain_text("暂扣")
    assert Grant.objects.count() == 1
