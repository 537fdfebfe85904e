"""Fixtures of the hub's console tests."""

import pytest

from tests.console_support import console_client


@pytest.fixture
def operator_console(library_admin):
    return console_client(library_admin)
