"""When a licence must reach the province: the sync deadline (art. 14, DESIGN §6).

Online issues must arrive within seconds of case completion; offline ones within 1 working day
of it, bulk and legacy ones within 5, to the end of that day (local time). The issuing service
records the day on the licence and the hub measures each arrival against the moment: both ask
this one rule. Pure: the caller passes the working-day calendar and the local time zone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from types import MappingProxyType

from shared.domain.workdays import WorkdayResult

ONLINE = "online"
# Working days allowed after case completion, by generation mode. Any other mode than these and
# `online` is held to the longest rule.
SYNC_WORKDAYS: Mapping[str, int] = MappingProxyType({"offline": 1, "bulk": 5, "legacy": 5})
LONGEST_WORKDAYS = 5


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncDeadline:
    """The last moment a licence may arrive on time.

    ``day`` is the working day it falls on, None for an online licence (its rule counts
    seconds); ``provisional`` when the calendar had no official data for a day it consulted.
    """

    at: datetime
    day: date | None
    provisional: bool


def sync_deadline(
    *,
    mode: str,
    case_completed_at: datetime,
    online_seconds: int,
    add_workdays: Callable[[date, int], WorkdayResult],
    tz: tzinfo,
) -> SyncDeadline:
    """The sync deadline of a licence generated in `mode` whose case completed at
    `case_completed_at` (aware). `add_workdays(start, n)` is the working-day calendar's
    (`WorkdayCalendar.add_workdays`); it is not called for an online licence."""
    if mode == ONLINE:
        return SyncDeadline(
            at=case_completed_at + timedelta(seconds=online_seconds), day=None, provisional=False
        )
    completed = case_completed_at.astimezone(tz).date()
    result = add_workdays(completed, SYNC_WORKDAYS.get(mode, LONGEST_WORKDAYS))
    return SyncDeadline(
        at=datetime.combine(result.day, time.max, tzinfo=tz),
        day=result.day,
        provisional=result.provisional,
    )
