"""Holder sign-in hardening (issue #10, items 6 and 8): the lockout is per account and is not
extended by attempts made while locked, every failed sign-in answers the same, and a session
ends when idle."""

import json
import re
from binascii import unhexlify
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.db.models import F
from django.test import Client
from django.utils import timezone
from django_otp.oath import totp

from shared.access.portal import holder_create
from shared.accounts.models import ApiToken
from tests.support import make_uscc

pytestmark = pytest.mark.django_db
KEY = "3132333435363738393031323334353637383930"  # RFC 6238's test key, hex
PASSWORD = "Holder-12345"
ERROR = re.compile(r'<p class="error"[^>]*>(.*?)</p>', re.S)


@pytest.fixture
def holders(holder_code):
    """Two holders (two companies) who sign in from the same address, as behind a proxy."""
    first, _ = holder_create(
        username="holder_a",
        password=PASSWORD,
        display_name="郑州豫中食品有限公司",
        holder_code=holder_code,
        holder_code_type="001",
        totp_key=KEY,
    )
    second, _ = holder_create(
        username="holder_b",
        password=PASSWORD,
        display_name="郑州中原商贸有限公司",
        holder_code=make_uscc(dept="91", area="410100", body="MA4X8Y9L"),
        holder_code_type="001",
        totp_key=KEY,
    )
    return first, second


def code_now():
    return f"{totp(unhexlify(KEY)):06d}"


def wrong_code():
    return "000000" if code_now() != "000000" else "111111"


def sign_in(client, username, password=PASSWORD, token=None, address="10.1.1.1"):
    return client.post(
        "/holder/login/",
        {"username": username, "password": password, "otp_token": token or code_now()},
        REMOTE_ADDR=address,
    )


def age_attempts(username, minutes):
    """Move the recorded failures back in time, as if `minutes` had passed."""
    AccessAttempt.objects.filter(username=username).update(
        attempt_time=F("attempt_time") - timedelta(minutes=minutes)
    )


def test_five_failures_lock_that_account_and_not_everyone_behind_the_address(holders):
    client = Client()
    for _ in range(4):
        assert sign_in(client, "holder_a", password="wrong-password").status_code == 400
    assert sign_in(client, "holder_a", password="wrong-password").status_code == 429
    # another holder behind the same address signs in
    response = sign_in(Client(), "holder_b")
    assert response.status_code == 302, response.content.decode()[:300]
    assert Client().get("/holder/").status_code == 302  # (a fresh browser is not signed in)
    # the locked account stays locked from any address, even with the right password and code
    locked = sign_in(Client(), "holder_a", address="10.9.9.9")
    assert locked.status_code == 429
    assert "已暂时锁定" in locked.content.decode()


def test_attempts_while_locked_do_not_extend_the_lock(holders):
    client = Client()
    for _ in range(5):
        sign_in(client, "holder_a", password="wrong-password")
    attempt = AccessAttempt.objects.get(username="holder_a")
    assert attempt.failures_since_start == 5
    age_attempts("holder_a", 20)  # twenty minutes into the thirty-minute lock …
    assert sign_in(client, "holder_a", password="wrong-password").status_code == 429
    assert sign_in(client, "holder_a", password="wrong-password-2").status_code == 429
    # … the attempts made while locked are not recorded as failures …
    assert AccessAttempt.objects.get(username="holder_a").failures_since_start == 5
    age_attempts("holder_a", 11)  # … so thirty-one minutes after the lock began, it is over
    response = sign_in(client, "holder_a")
    assert response.status_code == 302, response.content.decode()[:300]
    assert client.get("/holder/").status_code == 200


def test_every_failed_sign_in_answers_the_same(holders, consumer_user):
    answers = {
        "wrong password": sign_in(Client(), "holder_a", password="wrong-password"),
        "right password, wrong code": sign_in(Client(), "holder_a", token=wrong_code()),
        "right password, no digits": sign_in(Client(), "holder_a", token="abc"),
        "unknown user": sign_in(Client(), "nobody_here"),
        "staff account": sign_in(Client(), "consumer_1", password="Secret-12345"),
    }
    seen = {
        name: (response.status_code, ERROR.search(response.content.decode()).group(1))
        for name, response in answers.items()
    }
    assert len(set(seen.values())) == 1, seen
    status, message = seen["wrong password"]
    assert status == 400
    assert message.startswith("用户名、密码或动态口令错误")


def test_right_password_with_wrong_codes_locks_as_wrong_passwords_do(holders):
    client = Client()
    for _ in range(4):
        assert sign_in(client, "holder_a", token=wrong_code()).status_code == 400
    assert sign_in(client, "holder_a", token=wrong_code()).status_code == 429
    assert sign_in(Client(), "holder_a").status_code == 429


def test_a_session_ends_when_the_browser_closes_or_after_thirty_idle_minutes(holders):
    client = Client()
    assert sign_in(client, "holder_a").status_code == 302
    cookie = client.cookies["sessionid"]
    assert cookie["max-age"] == "" and cookie["expires"] == ""  # a browser-session cookie
    session = Session.objects.get(session_key=cookie.value)
    left = session.expire_date - timezone.now()
    assert timedelta(minutes=29) < left <= timedelta(minutes=30)
    # each request pushes the idle expiry forward
    Session.objects.filter(pk=session.pk).update(expire_date=timezone.now() + timedelta(minutes=2))
    assert client.get("/holder/").status_code == 200
    left = Session.objects.get(pk=session.pk).expire_date - timezone.now()
    assert left > timedelta(minutes=29)
    # thirty minutes without a request: signed out
    Session.objects.filter(pk=session.pk).update(expire_date=timezone.now() - timedelta(seconds=1))
    assert client.get("/holder/").status_code == 302


def test_demo_tokens_expire_and_seeding_again_renews_them(tmp_path, settings):
    path = tmp_path / "credentials.json"
    call_command("seed_demo", credentials=str(path))
    doc = json.loads(path.read_text(encoding="utf-8"))
    tokens = ApiToken.objects.all()
    assert tokens.exists()
    horizon = timezone.now() + timedelta(days=settings.API_TOKEN_DEFAULT_DAYS)
    for token in tokens:
        assert token.expires_at is not None
        assert abs(token.expires_at - horizon) < timedelta(minutes=5)
    # an expired demo token is renewed by the next seeding, and works again
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(days=1))
    client = Client(HTTP_AUTHORIZATION=f"Bearer {doc['issuer']['token']}")
    expired = client.get("/api/v1/me/")
    assert expired.status_code == 401
    assert expired.json()["code"] == "auth.token_expired"
    call_command("seed_demo", credentials=str(tmp_path / "again.json"))
    assert client.get("/api/v1/me/").status_code == 200
    assert not ApiToken.objects.filter(expires_at__lte=timezone.now()).exists()
