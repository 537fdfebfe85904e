"""Fixtures for holder enrolment: the reference OIDC provider and the reference registry, each
a real HTTP server on 127.0.0.1 in a thread; helpers that drive a browser's redirects."""

import urllib.parse
from binascii import unhexlify

import pytest
import requests
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from shared.access import ratelimit
from shared.access.registry_reference import ReferenceRegistry
from shared.identity import oidc
from shared.identity.reference_provider import Person, ReferenceProvider
from tests.support import make_citizen_id, make_uscc

CALLBACK = "http://testserver/holder/oidc/callback/"
ZHANG_CODE = make_citizen_id(area="410102", birth="19900307", seq="123")
COMPANY_CODE = make_uscc(dept="91", area="410100", body="MA3X7Y8L")
ZHANG = Person(
    username="zhangwei",
    password="Idp-Pass-123",
    name="张伟",
    holder_code=ZHANG_CODE,
    holder_code_type="111",
)


@pytest.fixture(autouse=True)
def fresh_budgets():
    ratelimit.rate_reset()  # the enrolment budget per address and code (Redis)
    oidc._cache.clear()  # discovery and JWKS kept per process
    yield
    ratelimit.rate_reset()


@pytest.fixture
def provider(settings):
    with ReferenceProvider(
        client_id="henan-elicense",
        client_secret="client-secret-for-tests",  # noqa: S106
        redirect_uris=[CALLBACK],
        people=[ZHANG],
        auto_approve="zhangwei",
    ) as service:
        settings.OIDC_ISSUER = service.issuer
        settings.OIDC_CLIENT_ID = "henan-elicense"
        settings.OIDC_CLIENT_SECRET = "client-secret-for-tests"  # noqa: S105
        yield service


@pytest.fixture
def registry(settings):
    entries = {("111", ZHANG_CODE): "张伟", ("001", COMPANY_CODE): "郑州豫中食品有限公司"}
    with ReferenceRegistry(entries) as service:
        settings.REGISTRY_ADAPTER = "http"
        settings.REGISTRY_URL = service.url
        yield service


def local(url: str) -> str:
    """The path and query of a URL on the test server, as the test client takes it."""
    parts = urllib.parse.urlsplit(url)
    assert parts.netloc in ("", "testserver"), url
    return parts.path + ("?" + parts.query if parts.query else "")


def oidc_round_trip(client: Client, tamper=None):
    """Start at /holder/oidc/login/, follow the provider's redirect over real HTTP, come back
    to the callback (its query changed by `tamper` if given); the callback's response."""
    start = client.get("/holder/oidc/login/")
    assert start.status_code == 302, start.content.decode()[:300]
    at_provider = requests.get(start["Location"], allow_redirects=False, timeout=5)
    assert at_provider.status_code == 302, at_provider.text
    back = at_provider.headers["Location"]
    assert back.startswith(CALLBACK)
    if tamper is not None:
        back = tamper(back)
    return client.get(local(back))


def totp_code(user, drift=0) -> str:
    device = TOTPDevice.objects.get(user=user)
    return f"{totp(unhexlify(device.key), drift=drift):06d}"
