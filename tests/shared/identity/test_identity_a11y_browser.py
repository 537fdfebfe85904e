"""The enrolment screens in a real headless Chromium pass the project's accessibility checker
(tests/a11y): the registry form (and its refusal), the TOTP enrolment with its QR code, the
recovery codes, the second-factor step, and the administrator's holder list."""

from binascii import unhexlify

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from shared.accounts.models import User
from tests.a11y import assert_accessible
from tests.console_browser import browser_page, chromium, sign_in  # noqa: F401
from tests.console_support import code_now, enrol
from tests.shared.identity.conftest import ZHANG_CODE

pytestmark = pytest.mark.django_db(transaction=True)


def fill_enrolment(page, name: str) -> None:
    page.get_by_label("证件类型").select_option("111")
    page.get_by_label("姓名（法人为单位名称）").fill(name)
    page.get_by_label("证件号码（公民身份号码或统一社会信用代码）").fill(ZHANG_CODE)
    page.get_by_label("用户名").fill("zhangwei")
    page.get_by_label("密码（至少 10 位）").fill("Holder-12345")
    page.get_by_role("button", name="核验并注册").click()


def test_enrolment_screens(browser_page, registry, library_admin):  # noqa: F811
    # given
    page = browser_page()
    page.goto("/holder/login/")
    page.get_by_role("link", name="还没有账户？核验身份后注册").click()
    assert_accessible(page, "注册持证人账户")
    # when: a name the registry does not have, then the right one
    fill_enrolment(page, "张伟伟")
    expect(page.get_by_role("alert")).to_contain_text("不一致")
    assert_accessible(page, "注册（有错误）")
    fill_enrolment(page, "张伟")
    page.wait_for_url("**/holder/otp/")
    # then: the QR code page, the recovery codes, the portal
    expect(page.get_by_role("img", name="动态口令二维码（otpauth 链接）")).to_be_visible()
    assert_accessible(page, "绑定动态口令")
    device = TOTPDevice.objects.get(user__username="zhangwei")
    page.get_by_label("验证器显示的 6 位数字").fill(f"{totp(unhexlify(device.key)):06d}")
    page.get_by_role("button", name="确认绑定").click()
    expect(page.get_by_role("heading", name="动态口令已绑定")).to_be_visible()
    assert_accessible(page, "恢复码")
    page.get_by_role("link", name="我已保存，进入持证人服务").click()
    page.wait_for_url("**/holder/")
    page.get_by_role("link", name="账户安全").click()
    expect(page.get_by_test_id("recovery-left")).to_have_text("10")
    assert_accessible(page, "账户安全")
    # the administrator's list of holder accounts
    enrol(library_admin)
    admin = browser_page()
    sign_in(admin, library_admin.username, code_now())
    admin.goto("/console/admin/holders/")
    expect(admin.get_by_role("cell", name="zhangwei")).to_be_visible()
    assert_accessible(admin, "持证人账户")
    assert User.objects.get(username="zhangwei").is_holder
