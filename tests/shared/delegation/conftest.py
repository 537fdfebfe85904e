"""Fixtures for the delegation tests: the access fixtures (a clean access log per test, issued
licences), a legal person's holder account, its staff member's (a natural person's) holder
account, each able to sign in to the portal with a one-time code, and the legal person's files
rendered and sealed."""

from binascii import unhexlify

import pytest
from django.test import Client
from django_otp.oath import totp

from shared.access.portal import holder_create
from tests.shared.access.conftest import *  # noqa: F403
from tests.shared.access.conftest import issue
from tests.shared.files.conftest import files_root, pki  # noqa: F401  # a files root, the PKI
from tests.shared.files.files_support import render_pending
from tests.support import make_citizen_id

KEY = "3132333435363738393031323334353637383930"  # RFC 6238's test key, hex
PASSWORD = "Holder-12345"


def portal_client(username: str) -> Client:
    client = Client()
    response = client.post(
        "/holder/login/",
        {"username": username, "password": PASSWORD, "otp_token": f"{totp(unhexlify(KEY)):06d}"},
    )
    assert response.status_code == 302, response.content.decode()
    return client


@pytest.fixture
def company(holder_code):
    user, _ = holder_create(
        username="yuzhong_corp",
        password=PASSWORD,
        display_name="郑州豫中食品有限公司",
        holder_code=holder_code,
        holder_code_type="001",
        totp_key=KEY,
    )
    return user


@pytest.fixture
def staff(db):
    user, _ = holder_create(
        username="zhang_wei",
        password=PASSWORD,
        display_name="张伟",
        holder_code=make_citizen_id(area="410102", birth="19900307", seq="123"),
        holder_code_type="111",
        totp_key=KEY,
    )
    return user


@pytest.fixture
def company_licence(issuer_user, license_type, pki):  # noqa: F811 - the PKI fixture above
    lic = issue(issuer_user, license_type)
    render_pending()
    return lic


# The browser tests: a real Chromium against the live server (tests/console_browser.py).
from tests.console_browser import browser_page, chromium  # noqa: E402, F401
