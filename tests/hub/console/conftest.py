"""Fixtures of the hub's console tests."""

import pytest

from tests.console_support import console_client


@pytest.fixture
def operator_console(library_admin):
    return console_client(library_admin)


# The browser tests: a real Chromium against the live server (tests/console_browser.py).
from tests.console_browser import browser_page, chromium  # noqa: E402, F401
