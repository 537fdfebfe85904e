"""The landing page and the holder portal at a phone's width in a real headless Chromium: no
sideways scroll, and the holder's licence table fits the screen (issue #15 items 6 and 7)."""

from binascii import unhexlify

import pytest
from django_otp.oath import totp
from playwright.sync_api import expect

from shared.access.portal import holder_create
from tests.shared.access.conftest import issue
from tests.support import make_uscc

pytestmark = pytest.mark.django_db(transaction=True)
KEY = "3132333435363738393031323334353637383930"  # RFC 6238's test key, hex
PHONE = {"width": 390, "height": 844}
NO_SIDEWAYS_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"


def test_at_phone_width_the_landing_page_and_the_licence_table_fit(
    browser_page, issuer_user, license_type
):
    # given: a holder with a licence whose identifier is long
    issue(issuer_user, license_type)
    holder_create(
        username="holder_yuzhong",
        password="Holder-12345",
        display_name="郑州豫中食品有限公司",
        holder_code=make_uscc(dept="91", area="410100", body="MA3X7Y8L"),
        holder_code_type="001",
        totp_key=KEY,
    )
    page = browser_page()
    page.set_viewport_size(PHONE)
    # when: the landing page opens at a phone's width
    page.goto("/")
    # then
    expect(page.get_by_role("heading", level=1)).to_contain_text("电子证照库")
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    # when: the holder follows the portal's link and signs in
    page.get_by_role("link", name="登录持证人服务").click()
    page.get_by_label("用户名").fill("holder_yuzhong")
    page.get_by_label("密码").fill("Holder-12345")
    page.get_by_label("动态口令").fill(f"{totp(unhexlify(KEY)):06d}")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/holder/")
    # then: the licence table is inside the screen and nothing scrolls sideways
    table = page.get_by_test_id("licences")
    expect(table).to_contain_text("食品经营许可证")
    box = table.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    expect(page.get_by_role("link", name="食品经营许可证 PDF 文件")).to_be_visible()
