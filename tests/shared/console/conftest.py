"""Fixtures of the console tests: staff signed in with password and one-time code."""

import pytest

from tests.console_support import console_client


@pytest.fixture
def issuer_console(issuer_user):
    return console_client(issuer_user)


@pytest.fixture
def consumer_console(consumer_user):
    return console_client(consumer_user)


@pytest.fixture
def admin_console(library_admin):
    return console_client(library_admin)


# The access log is committed through its own connection: each test starts from a clean log
# (and rate budget), as in the access tests.
from tests.shared.access.conftest import clean_access_log  # noqa: E402, F401


@pytest.fixture
def pki(db):
    from shared.files import keystore

    return keystore.pki_init()


# The browser tests: a real Chromium against the live server (tests/console_browser.py).
from tests.console_browser import browser_page, chromium  # noqa: E402, F401
