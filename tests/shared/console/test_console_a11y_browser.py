"""Accessibility of a node's screens in a real headless Chromium (issue #15 item 8): every main
screen of each role — landing, sign-in, the public verify page, the issuer's, the consumer's,
the administrator's and supervisor's, the holder portal — passes the project's checker
(tests/a11y/a11y_check.js: names of controls, buttons, links and images, ids, lang, table
headers, the skip link, text contrast), including the pages that show errors."""

from binascii import unhexlify
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.urls import reverse
from django_otp.oath import totp
from playwright.sync_api import expect

from shared.access.portal import holder_create
from shared.files import documents, keystore
from shared.licenses.models import LicenseVersion
from shared.licenses.services import license_act
from tests.a11y import assert_accessible, violations
from tests.console_browser import sign_in
from tests.console_support import code_now, enrol, wrong_code
from tests.shared.access.conftest import MATTER, grant, issue
from tests.support import make_uscc, make_user

pytestmark = pytest.mark.django_db(transaction=True)
KEY = "3132333435363738393031323334353637383930"  # RFC 6238's test key, hex
PHONE = {"width": 390, "height": 844}
NO_BROWSER_CHECKS = "document.querySelectorAll('form').forEach(f => f.noValidate = true)"


def _suspended_with_a_qr(issuer_user, license_type) -> tuple[str, str]:
    try:
        keystore.pki_init()
        lic = issue(issuer_user, license_type)
        version = LicenseVersion.objects.get(identifier=lic.identifier)
        token = documents.qr_token_issue(lic=lic, version=version).token
        license_act(actor=issuer_user, identifier=lic.identifier, action="suspend", reason="检查")
        return lic.identifier, token
    finally:
        connection.close()


@pytest.fixture
def suspended(issuer_user, license_type):
    """A suspended licence and a QR token of it, made in a thread of its own: the key store
    runs its own event loop, which cannot start in this thread while Playwright's is up."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(_suspended_with_a_qr, issuer_user, license_type).result()


def visit_all(page, urls: list[str]) -> None:
    for url in urls:
        response = page.goto(url)
        assert response is not None and response.status == 200, url
        assert_accessible(page, url)


def test_public_pages_landing_sign_in_and_verify(browser_page, issuer_user, suspended):
    identifier, token = suspended
    enrol(issuer_user)
    page = browser_page()
    visit_all(page, ["/", "/console/login/", "/holder/login/", f"/v/{token}", "/v/NOT-A-TOKEN"])
    expect(page.locator("#verdict")).to_be_visible()
    # the verify page of a suspended licence says so in words, not colour only
    page.goto(f"/v/{token}")
    expect(page.locator("#verdict h1")).to_contain_text("暂扣")
    # a refused sign-in: the message is announced and the page still passes
    page.goto("/console/login/")
    page.get_by_label("用户名").fill(issuer_user.username)
    page.get_by_label("密码", exact=True).fill("Secret-12345")
    page.get_by_label("动态口令").fill(wrong_code())
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("alert")).to_be_visible()
    assert_accessible(page, "登录失败")
    # at a phone's width
    page.set_viewport_size(PHONE)
    visit_all(page, ["/", "/console/login/"])


def test_issuer_screens(browser_page, issuer_user, license_type, suspended):
    identifier, _ = suspended
    enrol(issuer_user)
    page = browser_page()
    sign_in(page, issuer_user.username, code_now())
    assert_accessible(page, "工作台")
    type_code = license_type.type_code
    visit_all(
        page,
        [
            reverse("console-catalogue"),
            reverse("console-type", args=[type_code]),
            reverse("console-issue", args=[type_code]),
            reverse("console-licences"),
            reverse("console-licence", args=[identifier]),
            reverse("console-licence-act", args=[identifier, "resume"]),
            reverse("console-licence-change", args=[identifier, "renew"]),
            reverse("console-licence-change", args=[identifier, "amend"]),
            reverse("console-bulk"),
            reverse("console-reviews"),
            reverse("console-inspections"),
            reverse("console-usage"),
            reverse("console-bulk-approvals"),
        ],
    )
    # the issue form with its refusals: each tied to its field
    page.goto(reverse("console-issue", args=[type_code]))
    page.evaluate(NO_BROWSER_CHECKS)
    page.get_by_role("button", name="签发", exact=True).click()
    expect(page.locator("[aria-invalid=true]").first).to_be_visible()
    assert_accessible(page, "签发（有错误）")


def test_consumer_screens(browser_page, consumer_user, consumer_agency, license_type):
    grant(consumer_agency, license_type)
    enrol(consumer_user)
    page = browser_page()
    sign_in(page, consumer_user.username, code_now())
    visit_all(
        page,
        [
            reverse("console-query"),
            reverse("console-verify-file"),
            reverse("console-verify-qr"),
            reverse("console-copies"),
            reverse("console-bulk-requests"),
        ],
    )
    # a query without its purpose: refused, the refusal announced
    page.goto(reverse("console-query"))
    page.evaluate(NO_BROWSER_CHECKS)
    page.get_by_label("办理事项").select_option(MATTER)
    page.get_by_role("button", name="查询").click()
    expect(page.get_by_role("alert")).to_contain_text("用证事由")
    assert_accessible(page, "用证查询（有错误）")


def test_administrator_and_supervisor_screens(browser_page, library_admin, issuer_agency):
    supervisor = make_user("supervisor_1", None, role="supervisor")
    enrol(library_admin)
    enrol(supervisor)
    page = browser_page()
    sign_in(page, library_admin.username, code_now())
    visit_all(
        page,
        [
            reverse("console-agencies"),
            reverse("console-users"),
            reverse("console-tokens"),
            reverse("console-grants"),
            reverse("console-seals"),
            reverse("console-outbox"),
            reverse("console-webhooks"),
            reverse("console-notifications"),
            reverse("console-workdays"),
            reverse("console-audit"),
            reverse("console-statistics"),
            reverse("node-console-notices"),
        ],
    )
    other = browser_page()
    sign_in(other, supervisor.username, code_now())
    assert_accessible(other, "监管人员工作台")
    visit_all(other, [reverse("console-statistics"), reverse("console-audit")])
    # the page that refuses a screen to a role passes too
    response = other.goto(reverse("console-catalogue"))
    assert response is not None and response.status == 403
    assert_accessible(other, "403")


def test_holder_portal(browser_page, suspended):
    holder_create(
        username="holder_yuzhong",
        password="Holder-12345",
        display_name="郑州豫中食品有限公司",
        holder_code=make_uscc(dept="91", area="410100", body="MA3X7Y8L"),
        holder_code_type="001",
        totp_key=KEY,
    )
    page = browser_page()
    page.goto("/holder/login/")
    page.get_by_label("用户名").fill("holder_yuzhong")
    page.get_by_label("密码").fill("Holder-12345")
    page.get_by_label("动态口令").fill(f"{totp(unhexlify(KEY)):06d}")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/holder/")
    assert_accessible(page, "我的证照")
    visit_all(
        page, ["/holder/accesses/", "/holder/reviews/", "/holder/inspections/", "/holder/watch/"]
    )
    page.set_viewport_size(PHONE)
    visit_all(page, ["/holder/"])


def test_the_checker_fails_a_page_that_breaks_the_rules(browser_page):
    """The checker is not a test that cannot fail: each rule on a page made to break it."""
    page = browser_page()
    page.goto("/console/login/")
    assert violations(page) == []
    # a label removed: the password field has no name any more
    page.evaluate("document.querySelector('label[for=password]').remove()")
    found = violations(page)
    assert [v["rule"] for v in found] == ["control-name"]
    assert "password" in found[0]["where"]
    page.set_content(
        """<html><body style="background:#fff">
        <main><p style="color:#999">灰色正文</p><p style="color:#767676">刚好及格</p>
        <img src="data:,"><button></button><a href="/x"></a><svg><rect/></svg>
        <table><tr><th>列</th></tr></table>
        <input id="a" aria-invalid="true"><span id="a">重复</span>
        <input aria-describedby="gone" aria-label="有名">
        </main></body></html>"""
    )
    rules = sorted(v["rule"] for v in violations(page))
    assert rules == sorted(
        [
            "lang",
            "contrast",  # #999 on white: 2.85:1; #767676 passes (4.54:1)
            "img-alt",
            "button-name",
            "link-name",
            "svg-name",
            "th-scope",
            "duplicate-id",
            "control-name",
            "describedby",  # aria-invalid with nothing describing it
            "describedby",  # a reference to an id not in the page
            "skip-link",
        ]
    )
