"""The second factor of a new holder account (issue #14 item 1): TOTP enrolment with a QR code,
recovery codes shown once and each usable once, and the library administrator's reset,
audited with actor and reason (and the staff reset likewise)."""

import re
import urllib.parse

import pytest
import segno  # noqa: F401 - the QR code is segno's
from django.test import Client
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from shared.accounts.models import User
from shared.audit.models import AuditEntry
from tests.console_support import console_client
from tests.shared.identity.conftest import ZHANG_CODE, oidc_round_trip, totp_code

pytestmark = pytest.mark.django_db
PASSWORD = "Holder-12345"


@pytest.fixture
def enrolled(registry):
    """A holder just enrolled through the registry, signed in, not yet verified."""
    client = Client()
    response = client.post(
        "/holder/enrol/",
        {
            "name": "张伟",
            "code": ZHANG_CODE,
            "code_type": "111",
            "username": "zhangwei",
            "password": PASSWORD,
        },
    )
    assert response.status_code == 302
    return client, User.objects.get(username="zhangwei")


def confirm(client, holder):
    """Open the enrolment page, confirm with the code shown now; the recovery codes."""
    client.get("/holder/otp/")
    page = client.post("/holder/otp/", {"otp_token": totp_code(holder)}).content.decode()
    return re.findall(r'<li><span class="id">([a-z2-7-]+)</span></li>', page)


def password_sign_in(token=""):
    client = Client()
    response = client.post(
        "/holder/login/", {"username": "zhangwei", "password": PASSWORD, "otp_token": token}
    )
    return client, response


def test_enrolment_shows_a_qr_code_of_an_otpauth_uri(enrolled):
    # given
    client, holder = enrolled
    # when
    page = client.get("/holder/otp/").content.decode()
    # then
    device = TOTPDevice.objects.get(user=holder)
    assert not device.confirmed
    assert device.config_url.startswith("otpauth://totp/")
    assert 'data-testid="totp-qr"' in page and "data:image/svg+xml" in page
    secret = page.split('data-testid="totp-secret">')[1].split("<")[0]
    assert urllib.parse.quote(secret) in device.config_url
    # a second visit shows the same device, not a new one
    client.get("/holder/otp/")
    assert TOTPDevice.objects.filter(user=holder).count() == 1


def test_a_wrong_code_confirms_nothing(enrolled):
    # given
    client, holder = enrolled
    client.get("/holder/otp/")
    wrong = "000000" if totp_code(holder) != "000000" else "111111"
    # when
    response = client.post("/holder/otp/", {"otp_token": wrong})
    # then
    assert response.status_code == 400
    assert "动态口令不正确" in response.content.decode()
    assert not TOTPDevice.objects.get(user=holder).confirmed
    assert not StaticToken.objects.filter(device__user=holder).exists()
    assert client.get("/holder/")["Location"].startswith("/holder/otp/")


def test_confirming_the_code_verifies_the_session_and_shows_recovery_codes_once(enrolled):
    # given
    client, holder = enrolled
    # when
    codes = confirm(client, holder)
    # then
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(re.fullmatch(r"[a-z2-7]{4}(-[a-z2-7]{4}){3}", c) for c in codes)
    # what is kept is a digest, never a code
    stored = set(StaticToken.objects.filter(device__user=holder).values_list("token", flat=True))
    assert len(stored) == 10 and not stored & ({c.replace("-", "") for c in codes} | set(codes))
    assert TOTPDevice.objects.get(user=holder).confirmed
    assert client.get("/holder/").status_code == 200
    assert AuditEntry.objects.filter(action="account.otp_enrol", target_id=str(holder.pk)).exists()
    # the enrolment page is gone; the codes are not shown again
    assert client.get("/holder/otp/")["Location"] == "/holder/"


def test_a_recovery_code_signs_in_once(enrolled):
    # given
    client, holder = enrolled
    codes = confirm(client, holder)
    # when
    typed = codes[0].upper().replace("-", " ")  # case, spaces and dashes do not matter
    first_client, first = password_sign_in(typed)
    _, second = password_sign_in(codes[0])
    # then
    assert first.status_code == 302 and first_client.get("/holder/").status_code == 200
    assert second.status_code == 400
    assert "用户名、密码或动态口令错误" in second.content.decode()
    assert StaticToken.objects.filter(device__user=holder).count() == 9


def test_once_enrolled_the_password_alone_is_not_enough(enrolled):
    # given
    client, holder = enrolled
    confirm(client, holder)
    # when
    fresh, response = password_sign_in("")
    # then
    assert response.status_code == 400
    assert fresh.session.get("_auth_user_id") is None


def test_an_oidc_holder_gives_a_code_or_a_recovery_code_at_each_sign_in(provider):
    # given: first sign-in through the provider, authenticator bound
    client = Client()
    oidc_round_trip(client)
    holder = User.objects.get(role=User.Role.HOLDER)
    codes = confirm(client, holder)
    # when: the next sign-in through the provider
    later = Client()
    assert oidc_round_trip(later)["Location"] == "/holder/otp/"
    verify_page = later.get("/holder/otp/").content.decode()
    wrong = later.post("/holder/otp/", {"otp_token": "zzzzzzzz"})
    right = later.post("/holder/otp/", {"otp_token": codes[3]})
    # then
    assert "输入动态口令" in verify_page
    assert wrong.status_code == 400
    assert right.status_code == 302 and later.get("/holder/").status_code == 200
    again = Client()
    oidc_round_trip(again)
    assert again.post("/holder/otp/", {"otp_token": codes[3]}).status_code == 400


def test_the_library_administrator_resets_a_holder_with_a_reason(enrolled, library_admin):
    # given
    client, holder = enrolled
    confirm(client, holder)
    admin = console_client(library_admin)
    assert "zhangwei" in admin.get("/console/admin/holders/?q=张").content.decode()
    # when
    response = admin.post(
        "/console/admin/holders/zhangwei/otp/", {"reason": "手机遗失，现场核验身份证"}
    )
    # then
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=holder).exists()
    assert not StaticToken.objects.filter(device__user=holder).exists()
    entry = AuditEntry.objects.get(action="account.otp_reset")
    assert entry.actor_id == library_admin.pk
    assert (entry.target_id, entry.detail["reason"]) == (str(holder.pk), "手机遗失，现场核验身份证")
    # the holder's next sign-in (password alone) leads to a new enrolment
    fresh, signed = password_sign_in("")
    assert (signed.status_code, signed["Location"]) == (302, "/holder/otp/")
    assert "绑定动态口令" in fresh.get("/holder/otp/").content.decode()


def test_a_reset_without_a_reason_changes_nothing(enrolled, library_admin):
    # given
    client, holder = enrolled
    confirm(client, holder)
    admin = console_client(library_admin)
    # when
    response = admin.post("/console/admin/holders/zhangwei/otp/", {"reason": "  "})
    # then
    assert response.status_code == 302
    assert "请填写重置原因" in admin.get("/console/admin/holders/").content.decode()
    assert TOTPDevice.objects.filter(user=holder, confirmed=True).count() == 1
    assert StaticToken.objects.filter(device__user=holder).count() == 10
    assert not AuditEntry.objects.filter(action="account.otp_reset").exists()


def test_only_the_library_administrator_resets_holders(enrolled, agency_admin):
    # given
    client, holder = enrolled
    confirm(client, holder)
    # when
    response = console_client(agency_admin).post(
        "/console/admin/holders/zhangwei/otp/", {"reason": "手机遗失"}
    )
    # then
    assert response.status_code == 403
    assert TOTPDevice.objects.filter(user=holder, confirmed=True).count() == 1
    assert not AuditEntry.objects.filter(action="account.otp_reset").exists()


def test_a_staff_reset_is_audited_with_actor_and_reason(library_admin, issuer_user):
    # given
    admin = console_client(library_admin)
    console_client(issuer_user)  # the issuer has a device
    before = TOTPDevice.objects.get(user=issuer_user).pk
    # when
    refused = admin.post("/console/admin/users/issuer_1/otp/", {"reason": ""})
    assert TOTPDevice.objects.get(user=issuer_user).pk == before  # no reason: nothing changed
    response = admin.post("/console/admin/users/issuer_1/otp/", {"reason": "更换手机"})
    # then
    assert refused.status_code == 302
    assert response.status_code == 200 and 'data-testid="totp-secret"' in response.content.decode()
    assert TOTPDevice.objects.get(user=issuer_user).pk != before
    entry = AuditEntry.objects.filter(action="user.otp_reset", target_id=str(issuer_user.pk)).get()
    assert entry.actor_id == library_admin.pk and entry.detail["reason"] == "更换手机"


def test_guessing_codes_after_a_unified_sign_in_locks_the_account(provider):
    # given: a holder with a bound authenticator, signed in again through the provider
    first = Client()
    oidc_round_trip(first)
    holder = User.objects.get(role=User.Role.HOLDER)
    confirm(first, holder)
    client = Client()
    oidc_round_trip(client)
    # when: five wrong recovery codes
    answers = [client.post("/holder/otp/", {"otp_token": f"wrong{n}aa"}) for n in range(5)]
    # then: the fifth locks the account and ends the session
    assert [a.status_code for a in answers] == [400, 400, 400, 400, 429]
    assert "已暂时锁定" in answers[-1].content.decode()
    assert client.session.get("_auth_user_id") is None
    assert StaticToken.objects.filter(device__user=holder).count() == 10


def test_new_recovery_codes_need_a_current_code_and_void_the_old(enrolled):
    # given: a verified holder who used one recovery code
    client, holder = enrolled
    old = confirm(client, holder)
    assert password_sign_in(old[0])[1].status_code == 302
    page = client.get("/holder/security/").content.decode()
    assert 'data-testid="recovery-left">9<' in page
    wrong = "000000" if totp_code(holder, drift=1) != "000000" else "111111"
    # when: a wrong code changes nothing
    refused = client.post("/holder/security/", {"otp_token": wrong})
    assert refused.status_code == 400
    assert StaticToken.objects.filter(device__user=holder).count() == 9
    renewed = client.post("/holder/security/", {"otp_token": totp_code(holder, drift=1)})
    # then
    codes = re.findall(r'<li><span class="id">([a-z2-7-]+)</span></li>', renewed.content.decode())
    assert len(codes) == 10 and not set(codes) & set(old)
    assert password_sign_in(old[1])[1].status_code == 400
    assert password_sign_in(codes[0])[1].status_code == 302
    assert AuditEntry.objects.filter(action="account.recovery_renew").count() == 1
