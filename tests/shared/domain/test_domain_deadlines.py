"""The sync deadline rule (art. 14): online in seconds, offline 1 working day, bulk and legacy 5."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from shared.domain.deadlines import SyncDeadline, sync_deadline
from shared.domain.workdays import WorkdayCalendar, WorkdayResult

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Friday 2026-01-09, 10:00 Beijing time
FRIDAY = datetime(2026, 1, 9, 2, 0, tzinfo=UTC)


def _deadline(mode: str, completed: datetime = FRIDAY, **kw) -> SyncDeadline:
    return sync_deadline(
        mode=mode,
        case_completed_at=completed,
        online_seconds=kw.pop("online_seconds", 60),
        add_workdays=kw.pop("add_workdays", WorkdayCalendar().add_workdays),
        tz=SHANGHAI,
    )


def test_online_is_seconds_after_completion_and_asks_no_calendar() -> None:
    # given: a calendar that records being asked
    asked: list[tuple[date, int]] = []

    def add_workdays(start: date, days: int) -> WorkdayResult:
        asked.append((start, days))
        return WorkdayResult(day=start, provisional=False)

    # when
    deadline = _deadline("online", online_seconds=90, add_workdays=add_workdays)
    # then
    assert deadline == SyncDeadline(at=FRIDAY + timedelta(seconds=90), day=None, provisional=False)
    assert asked == []


@pytest.mark.parametrize(
    ("mode", "day"),
    [("offline", date(2026, 1, 12)), ("bulk", date(2026, 1, 16)), ("legacy", date(2026, 1, 16))],
)
def test_working_day_rules_end_with_the_local_day(mode: str, day: date) -> None:
    deadline = _deadline(mode)
    assert deadline == SyncDeadline(
        at=datetime.combine(day, time.max, tzinfo=SHANGHAI), day=day, provisional=False
    )


def test_the_day_of_completion_is_the_local_one() -> None:
    # 2026-01-08 16:30 UTC is Friday 2026-01-09 00:30 in Beijing: counted from Friday
    completed = datetime(2026, 1, 8, 16, 30, tzinfo=UTC)
    assert _deadline("offline", completed).day == date(2026, 1, 12)


def test_the_calendar_function_is_asked_with_the_rule_s_working_days() -> None:
    asked: list[tuple[date, int]] = []

    def add_workdays(start: date, days: int) -> WorkdayResult:
        asked.append((start, days))
        return WorkdayResult(day=date(2027, 1, 15), provisional=True)

    deadline = _deadline("bulk", add_workdays=add_workdays)
    assert asked == [(date(2026, 1, 9), 5)]
    assert (deadline.day, deadline.provisional) == (date(2027, 1, 15), True)


def test_an_unknown_mode_is_held_to_the_longest_rule() -> None:
    assert _deadline("scanned").day == _deadline("bulk").day
