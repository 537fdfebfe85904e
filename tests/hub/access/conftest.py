"""The access fixtures of the library's tests (tests/shared/access), here under the hub's
settings."""

from tests.shared.access.conftest import *  # noqa: F403
