"""The hub's watch tests write and read the access log: the access fixtures (a clean log per
test); the notify stand-in (tests/watch_support.py)."""

from tests.notify_support import notify_calls_fixture  # noqa: F401
from tests.shared.access.conftest import *  # noqa: F403
