"""The witness tests write and read the access log: the access fixtures (a clean log per test)."""

from tests.shared.access.conftest import *  # noqa: F403
