"""`make screenshots`, a city node's screens: a real Chromium against the test live server
(the browser tests' fixtures), saving PNGs into docs/screenshots/. Not part of `make test`
(run by path: pytest collects a file named on its command line whatever its name)."""

from binascii import unhexlify
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.urls import reverse
from django_otp.oath import totp
from playwright.sync_api import expect

from shared.access.portal import holder_create
from shared.files import keystore
from tests.console_browser import sign_in
from tests.console_support import code_now, enrol
from tests.screenshots.screens import DESKTOP, PHONE, shoot
from tests.shared.access.conftest import issue
from tests.shared.files.files_support import render_pending
from tests.support import make_uscc

pytestmark = pytest.mark.django_db(transaction=True)
KEY = "3132333435363738393031323334353637383930"  # RFC 6238's test key, hex


def _issued_and_sealed(issuer_user, license_type):
    try:
        keystore.pki_init()
        lic = issue(issuer_user, license_type)
        render_pending()
        return lic
    finally:
        connection.close()


@pytest.fixture
def licence(issuer_user, license_type):
    """Issued and sealed in a thread of its own: the signer runs its own event loop, which
    cannot start in this thread while Playwright's is up (the browser is per module)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(_issued_and_sealed, issuer_user, license_type).result()


def test_public_screens(browser_page):
    page = browser_page()
    page.set_viewport_size(DESKTOP)
    page.goto("/")
    shoot(page, "landing")
    page.get_by_role("link", name="登录管理控制台").click()
    shoot(page, "console-login")
    phone = browser_page()
    phone.set_viewport_size(PHONE)
    phone.goto("/")
    shoot(phone, "landing-phone")


def test_issuer_screens(browser_page, issuer_user, license_type, licence):
    enrol(issuer_user)
    page = browser_page()
    page.set_viewport_size(DESKTOP)
    sign_in(page, issuer_user.username, code_now())
    shoot(page, "console-home")
    page.goto(reverse("console-issue", args=[license_type.type_code]))
    shoot(page, "issue-form")
    page.goto(reverse("console-licence", args=[licence.identifier]))
    expect(page.get_by_test_id("status")).to_have_text("有效")
    shoot(page, "licence-detail")
    page.goto(reverse("console-reviews"))
    shoot(page, "review-inbox")


def test_holder_screens(browser_page, licence):
    holder_create(
        username="holder_yuzhong",
        password="Holder-12345",
        display_name="郑州豫中食品有限公司",
        holder_code=make_uscc(dept="91", area="410100", body="MA3X7Y8L"),
        holder_code_type="001",
        totp_key=KEY,
    )
    page = browser_page()
    page.set_viewport_size(DESKTOP)
    page.goto("/holder/login/")
    page.get_by_label("用户名").fill("holder_yuzhong")
    page.get_by_label("密码").fill("Holder-12345")
    page.get_by_label("动态口令").fill(f"{totp(unhexlify(KEY)):06d}")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/holder/")
    # the holder's own download: an access they then see listed
    page.context.request.get(f"/holder/licences/{licence.identifier}/file.pdf")
    page.reload()
    shoot(page, "holder-home")
    page.set_viewport_size(PHONE)  # the same session: a one-time code signs in once
    page.reload()
    shoot(page, "holder-home-phone")
