"""API tokens and transport hardening (issue #10, items 5 and 8): tokens only for staff, every
token expires, a Content-Security-Policy, and HTTPS-only production settings."""

import importlib
import os
import re
import subprocess
import sys
from binascii import unhexlify
from datetime import timedelta
from pathlib import Path

import pytest
from django.apps import apps as django_apps
from django.test import Client
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django_otp.oath import totp
from rest_framework.test import APIClient

from shared.access.portal import holder_create
from shared.accounts import services
from shared.accounts.models import ApiToken
from shared.core.errors import ForbiddenError
from tests.support import make_uscc

ROOT = Path(__file__).resolve().parents[3]
KEY = "3132333435363738393031323334353637383930"  # RFC 6238's test key, hex


@pytest.fixture
def holder(db):
    user, _ = holder_create(
        username="holder_1",
        password="Holder-12345",
        display_name="郑州豫中食品有限公司",
        holder_code=make_uscc(dept="91", area="410100", body="MA3X7Y8L"),
        holder_code_type="001",
        totp_key=KEY,
    )
    return user


@pytest.fixture
def holder_session(holder):
    """The holder signed in with password and one-time code, as a browser with its CSRF
    token: everything the issue's reproduction had."""
    browser = Client()
    browser.get("/holder/login/")
    response = browser.post(
        "/holder/login/",
        {
            "username": "holder_1",
            "password": "Holder-12345",
            "otp_token": f"{totp(unhexlify(KEY)):06d}",
        },
    )
    assert response.status_code == 302, response.content.decode()[:300]
    client = APIClient(enforce_csrf_checks=True)
    client.cookies = browser.cookies
    client.credentials(HTTP_X_CSRFTOKEN=browser.cookies["csrftoken"].value)
    return client


def bearer(secret):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


# --- item 5: tokens only for staff -------------------------------------------------------------


def test_a_holder_session_cannot_mint_a_token(holder, holder_session):
    response = holder_session.post("/api/v1/tokens/", {"name": "脚本"}, format="json")
    assert response.status_code == 403, response.json()
    assert response.json()["code"] == "token.staff_only"
    assert "持证人" in response.json()["message"]
    assert not ApiToken.objects.filter(user=holder).exists()
    listing = holder_session.get("/api/v1/tokens/")
    assert listing.status_code == 403
    assert listing.json()["code"] == "token.staff_only"


def test_no_path_issues_a_token_to_a_holder(holder, library_admin):
    for actor in (None, library_admin, holder):
        with pytest.raises(ForbiddenError) as refused:
            services.token_issue(actor=actor, user=holder, name="x")
        assert refused.value.code == "token.staff_only"
    admin = bearer(services.token_issue(actor=None, user=library_admin, name="t")[1])
    response = admin.post("/api/v1/tokens/", {"name": "x", "username": "holder_1"}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "token.staff_only"
    assert not ApiToken.objects.filter(user=holder).exists()


def test_a_holder_token_from_before_the_fix_no_longer_authenticates(holder):
    secret = "elc_legacy_holder_token_000000000000000000"
    ApiToken.objects.create(
        user=holder,
        name="legacy",
        prefix=secret[:12],
        digest=ApiToken.digest_of(secret),
        expires_at=timezone.now() + timedelta(days=30),
    )
    response = bearer(secret).get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["code"] == "auth.failed"


def test_a_staff_session_may_mint_its_own_token(library_admin):
    client = APIClient()
    client.force_login(library_admin)
    response = client.post("/api/v1/tokens/", {"name": "运维"}, format="json")
    assert response.status_code == 201, response.json()
    assert bearer(response.json()["token"]).get("/api/v1/me/").json()["username"] == "admin"


# --- item 5/8: every token expires -------------------------------------------------------------


def test_a_token_issued_without_expiry_expires_after_the_default(issuer, settings):
    response = issuer.post("/api/v1/tokens/", {"name": "接口"}, format="json")
    assert response.status_code == 201, response.json()
    expires_at = parse_datetime(response.json()["expires_at"])
    expected = timezone.now() + timedelta(days=90)
    assert abs(expires_at - expected) < timedelta(minutes=1)
    settings.API_TOKEN_DEFAULT_DAYS = 7
    response = issuer.post("/api/v1/tokens/", {"name": "短期"}, format="json")
    expires_at = parse_datetime(response.json()["expires_at"])
    assert abs(expires_at - (timezone.now() + timedelta(days=7))) < timedelta(minutes=1)


def test_a_token_cannot_be_asked_to_live_longer_than_the_maximum(issuer, issuer_user):
    count = ApiToken.objects.filter(user=issuer_user).count()
    far = (timezone.now() + timedelta(days=3650)).isoformat()
    response = issuer.post("/api/v1/tokens/", {"name": "永久", "expires_at": far}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "token.expires_at"
    assert response.json()["detail"]["max_days"] == 366
    assert ApiToken.objects.filter(user=issuer_user).count() == count


def test_an_expired_token_is_refused_with_a_clear_message(issuer_user):
    token, secret = services.token_issue(actor=None, user=issuer_user, name="t")
    client = bearer(secret)
    assert client.get("/api/v1/me/").status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    response = client.get("/api/v1/me/")
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == "auth.token_expired"
    assert "过期" in body["message"] and "重新签发" in body["message"]
    assert body["detail"]["expired_at"].endswith("+08:00")
    # the access API records its refusals: the expired token is one, and still a 401
    log = client.get("/api/v1/access-log/")
    assert log.status_code == 401
    assert log.json()["code"] == "auth.token_expired"
    # and it is refused on a write as well, which changes nothing
    refused = client.post("/api/v1/tokens/", {"name": "续期"}, format="json")
    assert refused.status_code == 401
    assert ApiToken.objects.filter(user=issuer_user).count() == 1


def test_a_token_row_without_expiry_ends_after_the_default_from_its_creation(issuer_user):
    secret = "elc_row_written_without_expiry_00000000000"
    token = ApiToken.objects.create(
        user=issuer_user, name="orm", prefix=secret[:12], digest=ApiToken.digest_of(secret)
    )
    assert bearer(secret).get("/api/v1/me/").status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(created_at=timezone.now() - timedelta(days=91))
    response = bearer(secret).get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["code"] == "auth.token_expired"


def test_the_migration_gives_old_tokens_an_expiry(issuer_user):
    secret = "elc_issued_before_expiry_was_default_0000"
    token = ApiToken.objects.create(
        user=issuer_user, name="old", prefix=secret[:12], digest=ApiToken.digest_of(secret)
    )
    migration = importlib.import_module("shared.accounts.migrations.0003_apitoken_default_expiry")
    migration.give_expiry(django_apps, None)
    token.refresh_from_db()
    assert abs(token.expires_at - (timezone.now() + timedelta(days=90))) < timedelta(minutes=1)


# --- item 8: Content-Security-Policy -----------------------------------------------------------


@pytest.mark.django_db
def test_pages_carry_a_content_security_policy_and_swagger_ui_runs_under_it():
    client = Client()
    for path in ("/holder/login/", "/api/docs/", "/api/v1/me/", "/healthz"):
        policy = client.get(path)["Content-Security-Policy"]
        assert "default-src 'self'" in policy
        assert "script-src 'self'" in policy and "unsafe-eval" not in policy
        assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
    # Swagger UI: no inline script (the policy would block it); every script from this origin
    docs = client.get("/api/docs/").content.decode()
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", docs, re.S)
    assert scripts
    assert all(body.strip() == "" for _, body in scripts)
    sources = [re.search(r'src="([^"]+)"', attrs).group(1) for attrs, _ in scripts]
    assert all(src.startswith("/") and not src.startswith("//") for src in sources)
    init = [src for src in sources if src.startswith("/api/docs/")]
    assert len(init) == 1
    script = client.get(init[0].replace("&amp;", "&"))
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "/api/schema/" in script.content.decode()
    for src in sources:
        if src.startswith("/static/"):
            assert client.get(src).status_code == 200


# --- item 8: production transport --------------------------------------------------------------


PROBE = """
from django.test import Client
c = Client()
print("healthz", c.get("/healthz").status_code)
r = c.get("/api/v1/me/")
print("me", r.status_code, r.get("Location"))
s = c.get("/healthz", secure=True)
print("hsts", s.get("Strict-Transport-Security"))
print("csp", bool(s.get("Content-Security-Policy")))
from django.conf import settings
print("cookies", settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE)
"""


def production_env(**extra):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DJANGO_SETTINGS_MODULE", "DJANGO_ENV", "DATABASE_URL", "REDIS_URL")
    }
    env.update(
        DJANGO_ENV="production",
        SECRET_KEY="s" * 50,
        ALLOWED_HOSTS="testserver,node.example.gov.cn",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/elicense_hD",
        REDIS_URL="redis://127.0.0.1:6379/10",
        HOLDER_CODE_KEY="k" * 40,
        FILES_KEY_PASSWORD="f" * 40,
        FEDERATION_KEY_PASSWORD="e" * 40,
        ACCESS_LOG_KEY_PASSWORD="a" * 40,
        METRICS_TOKEN="m" * 40,
    )
    env.update(extra)
    return env


def test_production_redirects_to_https_with_hsts_but_healthz_stays_on_http(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "node", "shell", "-c", PROBE],
        capture_output=True,
        text=True,
        env=production_env(VAR_DIR=str(tmp_path)),
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    probes = ("healthz", "me", "hsts", "csp", "cookies")
    lines = dict(
        line.split(" ", 1) for line in result.stdout.splitlines() if line.startswith(probes)
    )
    assert lines["healthz"] == "200"  # load balancers probe over plain HTTP
    assert lines["me"] == "301 https://testserver/api/v1/me/"
    assert lines["hsts"] == "max-age=31536000; includeSubDomains"
    assert lines["csp"] == "True"
    assert lines["cookies"] == "True True"


def test_production_refuses_to_start_without_hsts(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "hub", "check"],
        capture_output=True,
        text=True,
        env=production_env(VAR_DIR=str(tmp_path), SECURE_HSTS_SECONDS="0"),
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode != 0
    assert "SECURE_HSTS_SECONDS must be at least 86400" in result.stderr
