"""Signing in to the console (password + one-time code, lockout, sign-out), who may open
which screen, CSRF on every form, and the site's root opening the console."""

import pytest
from django.conf import settings
from django.test import Client

from shared.licenses.models import License
from tests.console_support import PASSWORD, code_now, console_client, enrol, wrong_code

pytestmark = pytest.mark.django_db


def post_login(client, username, password=PASSWORD, token=None):
    return client.post(
        "/console/login/",
        {"username": username, "password": password, "otp_token": token or code_now()},
    )


def test_staff_sign_in_with_password_and_code_and_every_page_says_who_where(issuer_user):
    # given
    enrol(issuer_user)
    client = Client()
    assert client.get("/console/licences/").url == "/console/login/?next=/console/licences/"
    # when
    response = post_login(client, "issuer_1")
    # then
    assert response.status_code == 302
    page = client.get("/console/").content.decode()
    agency = issuer_user.agency
    assert "issuer_1" in page and "经办人员" in page
    assert agency.name in page and agency.code in page
    assert settings.LIBRARY_NAME in page and settings.LIBRARY_CODE in page
    assert "退出登录" in page
    # signing out ends the session
    assert client.post("/console/logout/").status_code == 302
    assert client.get("/console/").status_code == 302


def test_password_alone_or_a_holder_account_is_refused_with_one_answer(issuer_user):
    enrol(issuer_user)
    client = Client()
    wrong = post_login(client, "issuer_1", token=wrong_code())
    unknown = post_login(client, "nobody")
    assert wrong.status_code == unknown.status_code == 400
    assert "用户名、密码或动态口令错误" in wrong.content.decode()
    assert wrong.content.decode().count("动态口令错误") == unknown.content.decode().count(
        "动态口令错误"
    )
    assert client.get("/console/").status_code == 302


def test_holders_sign_in_at_the_holder_portal_not_the_console(db):
    from shared.access.portal import holder_create
    from tests.console_support import KEY
    from tests.support import make_uscc

    holder_create(
        username="holder_1",
        password=PASSWORD,
        display_name="郑州豫中食品有限公司",
        holder_code=make_uscc(dept="91", area="410100", body="MA3X7Y8L"),
        holder_code_type="001",
        totp_key=KEY,
    )
    client = Client()
    assert post_login(client, "holder_1").status_code == 400
    assert client.get("/console/").status_code == 302


def test_repeated_failures_lock_the_account_even_for_the_right_code(issuer_user):
    enrol(issuer_user)
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        post_login(client, "issuer_1", token=wrong_code())
    locked = post_login(client, "issuer_1")
    assert locked.status_code == 429
    assert "账户已暂时锁定" in locked.content.decode()
    assert "持证人" not in locked.content.decode()  # the console's page, not the portal's
    assert client.get("/console/").status_code == 302


def test_a_consumer_cannot_open_the_issue_form(consumer_console, license_type):
    response = consumer_console.get(f"/console/catalogue/{license_type.type_code}/issue/")
    assert response.status_code == 403
    assert "无权访问" in response.content.decode()
    posted = consumer_console.post(f"/console/catalogue/{license_type.type_code}/issue/", {})
    assert posted.status_code == 403
    assert License.objects.count() == 0


def test_library_administration_refuses_staff(issuer_console):
    for path in (
        "/console/admin/agencies/",
        "/console/admin/grants/",
        "/console/admin/outbox/",
        "/console/admin/workdays/",
        "/console/admin/users/",
        "/console/admin/tokens/",
    ):
        assert issuer_console.get(path).status_code == 403, path
    nav = issuer_console.get("/console/").content.decode()
    assert "/console/admin/" not in nav and "/console/catalogue/" in nav


def test_every_form_needs_its_csrf_token(issuer_user, license_type):
    client = Client(enforce_csrf_checks=True)
    enrol(issuer_user)
    assert post_login(client, "issuer_1").status_code == 403  # the sign-in form too
    signed_in = console_client(issuer_user, enforce_csrf_checks=True)
    issued = signed_in.post(f"/console/catalogue/{license_type.type_code}/issue/", {})
    assert issued.status_code == 403
    assert signed_in.post("/console/logout/").status_code == 403
    assert License.objects.count() == 0


def test_the_root_is_the_landing_page_and_the_other_paths_still_answer(db):
    client = Client()
    root = client.get("/")
    assert root.status_code == 200 and 'href="/console/login/"' in root.content.decode()
    assert client.get("/console/").url.startswith("/console/login/")
    assert client.get("/console/login/").status_code == 200
    assert client.get("/api/v1/me/").status_code == 401
    assert client.get("/admin/login/").status_code == 200
    assert client.get("/v/not-a-token").status_code in (200, 404)
    assert client.get("/healthz").status_code == 200


def test_console_pages_are_not_cached(issuer_console):
    response = issuer_console.get("/console/")
    assert "no-store" in response["Cache-Control"] or "no-cache" in response["Cache-Control"]
