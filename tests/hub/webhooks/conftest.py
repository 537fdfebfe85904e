"""The webhook fixtures of the library's tests (tests/shared/webhooks), here under the hub's
settings."""

from tests.shared.webhooks.conftest import (  # noqa: F401
    clean_access_log,
    granted,
    licence,
    receiver,
    used,
)
