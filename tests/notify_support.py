"""`notify_calls`: what a test's code asked the notification outbox to send, read back from the
real outbox (`shared.notifications`), one entry per dedupe key in the order queued, with the
recipients' usernames sorted. The file channel is the only one on, so every recipient gets a
row whatever contact details the test's users have."""

from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from shared.notifications.models import Notification


class QueuedCalls(Sequence):
    def _calls(self) -> list[dict[str, Any]]:
        calls: dict[str, dict[str, Any]] = {}
        rows = Notification.objects.filter(channel="file").select_related("user")
        for row in rows.order_by("created_at", "id"):
            call = calls.setdefault(
                row.dedupe_key,
                {
                    "event": row.event,
                    "dedupe_key": row.dedupe_key,
                    "users": [],
                    "subject": row.subject,
                    "body": row.body,
                    "link": row.link,
                },
            )
            call["users"].append(row.user.username)
        for call in calls.values():
            call["users"].sort()
        return list(calls.values())

    def __len__(self) -> int:
        return len(self._calls())

    def __getitem__(self, index):  # type: ignore[no-untyped-def]
        return self._calls()[index]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._calls())

    def __eq__(self, other: object) -> bool:
        return self._calls() == other

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(self._calls())


@pytest.fixture(name="notify_calls")
def notify_calls_fixture(settings, tmp_path):
    settings.NOTIFY_CHANNELS = ["file"]
    settings.NOTIFY_FILE_DIR = str(tmp_path / "notifications")
    return QueuedCalls()
