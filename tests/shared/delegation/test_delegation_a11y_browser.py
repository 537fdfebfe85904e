"""The holder portal's screens of issue #14 in a real headless Chromium: the staff member acting
for a legal person (the "代表" banner and the switch), the filtered access log and its refusal,
the share links with their revoke buttons, and the delegation screens of both sides pass the
project's accessibility checker (tests/a11y/a11y_check.js), on a desktop and a phone."""

from binascii import unhexlify
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django_otp.oath import totp
from playwright.sync_api import expect

from shared.access.portal import holder_create, holder_share_create
from shared.delegation.services import delegation_grant
from tests.a11y import assert_accessible
from tests.shared.access.conftest import issue
from tests.support import make_citizen_id, make_uscc

pytestmark = pytest.mark.django_db(transaction=True)
KEY = "3132333435363738393031323334353637383930"  # RFC 6238's test key, hex
PHONE = {"width": 390, "height": 844}


def _setting(issuer_user, license_type) -> str:
    """A company with a licence shared once, and its staff member's delegation; made in a
    thread of its own (no ORM work inside Playwright's event loop thread)."""
    try:
        company, _ = holder_create(
            username="yuzhong_corp",
            password="Holder-12345",
            display_name="郑州豫中食品有限公司",
            holder_code=make_uscc(dept="91", area="410100", body="MA3X7Y8L"),
            holder_code_type="001",
            totp_key=KEY,
        )
        holder_create(
            username="zhang_wei",
            password="Holder-12345",
            display_name="张伟",
            holder_code=make_citizen_id(area="410102", birth="19900307", seq="123"),
            holder_code_type="111",
            totp_key=KEY,
        )
        lic = issue(issuer_user, license_type)
        holder_share_create(holder=company, identifier=lic.identifier, use_cause="申请银行贷款")
        delegation_grant(principal=company, delegate_username="zhang_wei", days=30)
        return lic.identifier
    finally:
        connection.close()


@pytest.fixture
def setting(issuer_user, license_type):
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(_setting, issuer_user, license_type).result()


def signed_in(browser_page, username):
    page = browser_page()
    page.goto("/holder/login/")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill("Holder-12345")
    page.get_by_label("动态口令").fill(f"{totp(unhexlify(KEY)):06d}")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/holder/")
    return page


def visit(page, url, status=200):
    response = page.goto(url)
    assert response is not None and response.status == status, url
    assert_accessible(page, url)


def test_the_staff_member_acting_for_the_company(browser_page, setting):
    page = signed_in(browser_page, "zhang_wei")
    assert_accessible(page, "我的证照（本人）")
    # when: the switch on the home page
    page.get_by_label("以谁的身份办理").select_option(index=1)
    page.get_by_role("button", name="切换").click()
    # then
    expect(page.get_by_test_id("acting")).to_contain_text("代表 郑州豫中食品有限公司")
    expect(page.get_by_test_id("licences")).to_contain_text(setting)
    assert_accessible(page, "我的证照（代表法人）")
    for url in ("/holder/accesses/", "/holder/shares/", "/holder/delegations/"):
        visit(page, url)
    visit(page, "/holder/accesses/?operation=nothing", status=400)
    page.set_viewport_size(PHONE)
    visit(page, "/holder/")
    visit(page, "/holder/shares/")


def test_the_company_manages_its_delegations(browser_page, setting):
    page = signed_in(browser_page, "yuzhong_corp")
    visit(page, "/holder/delegations/")
    expect(page.get_by_test_id("granted")).to_contain_text("张伟")
    # a refused grant: the message is shown and the page still passes
    page.get_by_label("经办人账号（用户名）").fill("nobody")
    page.get_by_role("button", name="授权", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("自然人持证人账号")
    assert_accessible(page, "授权被拒绝")
    page.set_viewport_size(PHONE)
    visit(page, "/holder/delegations/")
