"""Fixtures of the hub's console tests."""

import pytest

from tests.console_support import console_client


@pytest.fixture
def operator_console(library_admin):
    return console_client(library_admin)


# The browser tests: a real Chromium against the live server (tests/console_browser.py).
from tests.console_browser import browser_page, chromium  # noqa: E402, F401

# The supervision screens' tests (i15-supervision): the compliance tests' supervisor, 郑州's
# and 洛阳's agencies as the hub holds them, and 郑州's node as a peer.
from tests.hub.compliance.conftest import (  # noqa: E402, F401
    ly_agency,
    supervisor_user,
    zz_agency,
    zz_peer,
)


@pytest.fixture(autouse=True)
def _lag_cache_cleared():
    """The sync lag's ended buckets are cached (per process): each test starts without them."""
    from django.core.cache import cache

    cache.clear()
