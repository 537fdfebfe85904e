"""Working-day calendar for the statutory deadlines (art. 14: 1 and 5 working days).

Three sources, in order of precedence:

1. the operator-edited override table (date → is working day), which wins over everything;
2. ``chinese_calendar`` (PyPI ``chinesecalendar``), which knows the State Council's holidays
   and the adjusted working weekends, but only for the years it ships data for (2004–2026 in
   1.11) and raises ``NotImplementedError`` outside them;
3. Monday–Friday, for those other years. Such answers are *provisional*: the real schedule is
   published each December, so a deadline computed from it may still move.

Every answer carries the provisional flag so that a deadline can be shown as "暂定".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

import chinese_calendar


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkdayResult:
    """A computed day and whether it rests on the Monday–Friday fallback."""

    day: date
    provisional: bool


_ONE_DAY = timedelta(days=1)


class WorkdayCalendar:
    """Answers "is this a working day?" and counts working days; never raises for a date.

    ``overrides`` is copied at construction: build a new calendar when the table changes, so
    one computation never sees two versions of it.
    """

    def __init__(self, overrides: Mapping[date, bool] | None = None) -> None:
        self._overrides: dict[date, bool] = dict(overrides or {})
        # Answers never change for one calendar: an envelope of thousands of licences asks
        # the same few questions (completed that day, due how many working days later).
        self._added: dict[tuple[date, int], WorkdayResult] = {}

    def is_workday(self, day: date) -> tuple[bool, bool]:
        """Return ``(is_workday, provisional)`` for ``day``."""
        override = self._overrides.get(day)
        if override is not None:
            return override, False
        try:
            return bool(chinese_calendar.is_workday(day)), False
        except NotImplementedError:
            # No official data for that year: assume an ordinary Monday–Friday week.
            return day.weekday() < 5, True

    def add_workdays(self, start: date, days: int) -> WorkdayResult:
        """The day that is ``days`` working days after ``start`` (``start`` itself not counted).

        A case completed on Friday 2026-01-09 with a 1-working-day rule is due Monday
        2026-01-12. ``days == 0`` returns ``start``. The result is provisional if any day
        consulted was. Raises ``ValueError`` for negative ``days``.
        """
        if days < 0:
            raise ValueError("add_workdays: days must not be negative")
        known = self._added.get((start, days))
        if known is not None:
            return known
        day = start
        remaining = days
        provisional = False
        while remaining > 0:
            day += _ONE_DAY
            workday, day_provisional = self.is_workday(day)
            provisional = provisional or day_provisional
            if workday:
                remaining -= 1
        result = WorkdayResult(day=day, provisional=provisional)
        self._added[(start, days)] = result
        return result

    def workdays_between(self, start: date, end: date) -> tuple[int, bool]:
        """Return ``(count, provisional)``: the working days in the interval (start, end].

        ``end <= start`` gives ``(0, False)``.
        """
        count = 0
        provisional = False
        day = start + _ONE_DAY
        while day <= end:
            workday, day_provisional = self.is_workday(day)
            provisional = provisional or day_provisional
            if workday:
                count += 1
            day += _ONE_DAY
        return count, provisional


def add_workdays(
    start: date, days: int, *, calendar: WorkdayCalendar | None = None
) -> WorkdayResult:
    """Module-level form of ``WorkdayCalendar.add_workdays``.

    Without ``calendar`` no overrides apply: services should pass the calendar built from the
    operator's table.
    """
    return (calendar or WorkdayCalendar()).add_workdays(start, days)


def workdays_between(
    start: date, end: date, *, calendar: WorkdayCalendar | None = None
) -> tuple[int, bool]:
    """Module-level form of ``WorkdayCalendar.workdays_between`` (see ``add_workdays``)."""
    return (calendar or WorkdayCalendar()).workdays_between(start, end)
