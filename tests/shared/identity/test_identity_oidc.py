"""Holder enrolment through the provincial unified login (OpenID Connect, issue #14 item 1),
driven end to end through the reference provider over real HTTP: state, nonce, PKCE, the ID
token's signature against the JWKS, iss/aud/exp; every refusal makes no account."""

import base64
import hashlib
import socket
import subprocess
import sys
import urllib.parse

import pytest
import requests
from django.test import Client

from shared.accounts.models import User
from shared.audit.models import AuditEntry
from shared.identity.models import ExternalIdentity
from shared.identity.reference_provider import DEMO_PASSWORD
from tests.shared.identity.conftest import CALLBACK, ZHANG, ZHANG_CODE, oidc_round_trip

pytestmark = pytest.mark.django_db


def signed_in_user(client: Client):
    return client.session.get("_auth_user_id")


def test_first_sign_in_enrols_the_holder_from_the_verified_token(provider):
    # given
    client = Client()
    # when
    response = oidc_round_trip(client)
    # then: an account made from the token's name and code, linked by issuer + subject
    assert (response.status_code, response["Location"]) == (302, "/holder/otp/")
    link = ExternalIdentity.objects.get()
    assert (link.issuer, link.subject) == (provider.issuer, ZHANG.subject)
    holder = link.user
    assert holder.is_holder and holder.display_name == "张伟"
    assert (holder.holder_code, holder.holder_code_type) == (ZHANG_CODE, "111")
    assert not holder.has_usable_password()
    assert signed_in_user(client) == str(holder.pk)
    entry = AuditEntry.objects.get(action="account.enrol")
    assert entry.target_id == str(holder.pk) and entry.detail["path"] == "oidc"
    # the provider saw discovery, the authorisation, the token and the JWKS, in that order
    assert provider.state.requests == [
        "GET /.well-known/openid-configuration",
        "GET /authorize",
        "POST /token",
        "GET /jwks",
    ]


def test_a_later_sign_in_finds_the_same_account(provider):
    # given
    oidc_round_trip(Client())
    holder = User.objects.get(role=User.Role.HOLDER)
    # when
    client = Client()
    response = oidc_round_trip(client)
    # then
    assert response.status_code == 302
    assert signed_in_user(client) == str(holder.pk)
    assert User.objects.filter(role=User.Role.HOLDER).count() == 1
    assert ExternalIdentity.objects.count() == 1
    assert AuditEntry.objects.filter(action="account.enrol").count() == 1


def test_an_existing_holder_account_of_the_same_code_is_linked_not_doubled(provider):
    # given: a holder account made at the counter for the same person
    from shared.access.portal import holder_create

    existing, _ = holder_create(
        username="zhang_counter",
        password="Holder-12345",
        display_name="张伟",
        holder_code=ZHANG_CODE,
        holder_code_type="111",
    )
    client = Client()
    # when
    response = oidc_round_trip(client)
    # then
    assert response.status_code == 302
    assert signed_in_user(client) == str(existing.pk)
    assert User.objects.filter(role=User.Role.HOLDER).count() == 1
    assert ExternalIdentity.objects.get().user == existing
    assert AuditEntry.objects.get(action="account.link").target_id == str(existing.pk)
    assert not AuditEntry.objects.filter(action="account.enrol").exists()


def test_a_rotated_provider_key_is_fetched_once_and_an_unknown_one_refused(provider):
    # given: one sign-in (discovery and JWKS now kept), then the provider rotates its key
    oidc_round_trip(Client())
    provider.rotate_key()
    # when
    client = Client()
    response = oidc_round_trip(client)
    # then: the JWKS fetched again, once; the holder signed in
    assert response.status_code == 302 and signed_in_user(client) is not None
    assert provider.state.requests.count("GET /jwks") == 2
    assert provider.state.requests.count("GET /.well-known/openid-configuration") == 1
    # and a token under a key id the provider does not publish: fetched once more, refused
    provider.fault = "unknown_key"
    refused = oidc_round_trip(Client())
    assert refused.status_code == 400 and "oidc.bad_signature" in refused.content.decode()
    assert provider.state.requests.count("GET /jwks") == 3
    assert User.objects.filter(role=User.Role.HOLDER).count() == 1


def test_the_signed_in_holder_is_not_verified_until_the_second_factor(provider):
    # given
    client = Client()
    oidc_round_trip(client)
    # when
    home = client.get("/holder/")
    # then: the portal shows nothing, it sends the holder to bind an authenticator
    assert (home.status_code, home["Location"]) == (302, "/holder/otp/?next=/holder/")
    page = client.get("/holder/otp/").content.decode()
    assert "绑定动态口令" in page and "data:image/svg+xml" in page


@pytest.mark.parametrize(
    "fault", ["wrong_nonce", "wrong_audience", "bad_signature", "expired", "wrong_issuer"]
)
def test_a_token_that_fails_a_check_is_refused_and_makes_nothing(provider, fault):
    # given
    provider.fault = fault
    client = Client()
    # when
    response = oidc_round_trip(client)
    # then
    assert response.status_code == 400
    text = response.content.decode()
    assert "统一身份认证登录未通过校验，未登录也未创建账户" in text
    assert User.objects.filter(role=User.Role.HOLDER).count() == 0
    assert ExternalIdentity.objects.count() == 0
    assert not AuditEntry.objects.filter(action="account.enrol").exists()
    assert signed_in_user(client) is None


def test_the_refusal_names_the_failed_check(provider):
    provider.fault = "bad_signature"
    response = oidc_round_trip(Client())
    assert "oidc.bad_signature" in response.content.decode()
    provider.fault = "wrong_nonce"
    assert "oidc.nonce_mismatch" in oidc_round_trip(Client()).content.decode()
    provider.fault = "wrong_audience"
    assert "oidc.claim_invalid_claim" in oidc_round_trip(Client()).content.decode()


def test_a_forged_state_is_refused_before_the_code_is_used(provider):
    # given
    def forge(url):
        return url.replace("state=", "state=forged")

    # when
    response = oidc_round_trip(Client(), tamper=forge)
    # then
    assert response.status_code == 400
    assert "oidc.state_mismatch" in response.content.decode()
    assert "POST /token" not in provider.state.requests
    assert User.objects.filter(role=User.Role.HOLDER).count() == 0


def test_the_answer_cannot_be_replayed(provider):
    # given: one complete sign-in
    client = Client()
    start = client.get("/holder/oidc/login/")
    back = requests.get(start["Location"], allow_redirects=False, timeout=5).headers["Location"]
    path = urllib.parse.urlsplit(back)
    first = client.get(path.path + "?" + path.query)
    assert first.status_code == 302
    client.logout()
    # when: the same callback URL again
    again = client.get(path.path + "?" + path.query)
    # then
    assert again.status_code == 400
    assert "登录已失效或已完成" in again.content.decode()
    assert signed_in_user(client) is None


def test_the_provider_refuses_a_code_without_the_pkce_verifier(provider):
    # given: a code issued for a challenge
    verifier = "v" * 50
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    )
    query = urllib.parse.urlencode(
        {
            "response_type": "code",
            "client_id": "henan-elicense",
            "redirect_uri": CALLBACK,
            "scope": "openid",
            "state": "s",
            "nonce": "n",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    answer = requests.get(f"{provider.url}/authorize?{query}", allow_redirects=False, timeout=5)
    code = urllib.parse.parse_qs(urllib.parse.urlsplit(answer.headers["Location"]).query)["code"]
    # when: redeemed with another verifier
    token = requests.post(
        f"{provider.url}/token",
        data={
            "grant_type": "authorization_code",
            "code": code[0],
            "redirect_uri": CALLBACK,
            "code_verifier": "w" * 50,
        },
        auth=("henan-elicense", "client-secret-for-tests"),
        timeout=5,
    )
    # then
    assert (token.status_code, token.json()["error"]) == (400, "invalid_grant")


def test_the_provider_signs_in_through_its_form_when_not_auto_approving(provider):
    # given
    provider.state.auto_approve = ""
    client = Client()
    start = client.get("/holder/oidc/login/")
    browser = requests.Session()
    form = browser.get(start["Location"], allow_redirects=False, timeout=5)
    assert form.status_code == 200 and "统一身份认证" in form.text
    fields = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(start["Location"]).query))
    # when: a wrong password, then the right one
    wrong = browser.post(
        f"{provider.url}/authorize",
        data=fields | {"username": "zhangwei", "password": "nope"},
        allow_redirects=False,
        timeout=5,
    )
    right = browser.post(
        f"{provider.url}/authorize",
        data=fields | {"username": "zhangwei", "password": ZHANG.password},
        allow_redirects=False,
        timeout=5,
    )
    # then
    assert wrong.status_code == 400 and "用户名或密码错误" in wrong.text
    back = urllib.parse.urlsplit(right.headers["Location"])
    response = client.get(back.path + "?" + back.query)
    assert response.status_code == 302
    assert User.objects.filter(role=User.Role.HOLDER, display_name="张伟").count() == 1


def test_a_provider_that_does_not_answer_is_a_retryable_error(provider, settings):
    # given
    settings.OIDC_ISSUER = "http://127.0.0.1:9"  # discard: nothing listens
    # when
    response = Client().get("/holder/oidc/login/")
    # then
    assert response.status_code == 503
    assert "统一身份认证服务暂不可用，请稍后重试" in response.content.decode()


def test_the_button_is_shown_only_when_configured(provider, settings):
    assert 'data-testid="oidc-login"' in Client().get("/holder/login/").content.decode()
    settings.OIDC_CLIENT_SECRET = ""
    assert 'data-testid="oidc-login"' not in Client().get("/holder/login/").content.decode()
    assert Client().get("/holder/oidc/login/").status_code == 404


@pytest.fixture
def provider_process(settings):
    """The provider as the demo runs it: `python -m shared.identity.reference_provider --demo`."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "shared.identity.reference_provider", "--demo", "--port", str(port)]
        + ["--client-id", "demo-client", "--client-secret", "demo-secret"]
        + ["--redirect-uri", CALLBACK],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert "reference OIDC provider at" in proc.stdout.readline()
        settings.OIDC_ISSUER = f"http://127.0.0.1:{port}"
        settings.OIDC_CLIENT_ID = "demo-client"
        settings.OIDC_CLIENT_SECRET = "demo-secret"  # noqa: S105
        yield settings.OIDC_ISSUER
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_demo_provider_process_enrols_a_new_person_through_its_form(provider_process):
    # given
    client = Client()
    start = client.get("/holder/oidc/login/")
    fields = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(start["Location"]).query))
    # when: 李娜 signs in at the provider's form
    answer = requests.post(
        f"{provider_process}/authorize",
        data=fields | {"username": "lina", "password": DEMO_PASSWORD},
        allow_redirects=False,
        timeout=5,
    )
    back = urllib.parse.urlsplit(answer.headers["Location"])
    response = client.get(back.path + "?" + back.query)
    # then
    assert (response.status_code, response["Location"]) == (302, "/holder/otp/")
    holder = User.objects.get(role=User.Role.HOLDER)
    assert holder.display_name == "李娜" and holder.holder_code.startswith("41010219900607246")


def test_production_refuses_a_unified_login_without_tls():
    from shared.conf.env import ImproperlyConfiguredError
    from shared.conf.production import check_production_settings
    from tests.shared.demo.test_hardening_secrets import production_settings

    check_production_settings(production_settings(OIDC_ISSUER="https://login.henan.gov.cn"))
    with pytest.raises(ImproperlyConfiguredError) as refused:
        check_production_settings(production_settings(OIDC_ISSUER="http://login.henan.gov.cn"))
    assert "OIDC_ISSUER must be an https:// URL" in str(refused.value)


@pytest.mark.django_db(transaction=True)
def test_two_first_sign_ins_at_once_make_one_account():
    # given: the same verified identity arriving twice at the same moment
    import threading

    from django.db import connection

    from shared.identity.oidc import Identity
    from shared.identity.services import holder_enrol_oidc

    identity = Identity(
        issuer="https://login.example",
        subject="sub-race",
        name="张伟",
        holder_code=ZHANG_CODE,
        holder_code_type="111",
    )
    barrier = threading.Barrier(2)
    results, errors = [], []

    def sign_in():
        try:
            barrier.wait()
            results.append(holder_enrol_oidc(identity=identity))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    # when
    threads = [threading.Thread(target=sign_in) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then: one account, one link, both sign-ins reach it
    assert errors == []
    assert User.objects.filter(role=User.Role.HOLDER).count() == 1
    assert ExternalIdentity.objects.count() == 1
    assert {user.pk for user, _ in results} == {User.objects.get(role=User.Role.HOLDER).pk}


def test_the_provider_saying_no_is_a_refusal(provider):
    # given: the person declined at the provider
    def declined(url):
        state = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["state"][0]
        return f"{CALLBACK}?error=access_denied&state={state}"

    # when
    response = oidc_round_trip(Client(), tamper=declined)
    # then
    assert response.status_code == 400
    assert "oidc.provider_error" in response.content.decode()
    assert User.objects.filter(role=User.Role.HOLDER).count() == 0
