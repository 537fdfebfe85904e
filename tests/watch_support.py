"""The one seam the watch tests stand in for: `shared.notifications.services.notify` (issue #14
item 3) is built on another branch. Until it is merged, `notify_calls` installs a recording
stand-in under that module name; the tests assert on what the watch passes to it (and that it
was called). After the merge the integrator points these tests at the real one."""

import sys
import types

import pytest


@pytest.fixture(name="notify_calls")
def notify_calls_fixture(monkeypatch):
    calls: list[dict] = []

    def notify(*, event, dedupe_key, users, subject, body, link=""):
        users = list(users)
        calls.append(
            {
                "event": event,
                "dedupe_key": dedupe_key,
                "users": [u.username for u in users],
                "subject": subject,
                "body": body,
                "link": link,
            }
        )
        return len(users)

    module = types.ModuleType("shared.notifications.services")
    module.notify = notify  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "shared.notifications.services", module)
    return calls
