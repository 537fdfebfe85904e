"""The yearly window of an annual inspection (网络年检, art. 26): "MM-DD" to "MM-DD".

A window lies within one calendar year (it does not wrap over New Year) and its days are
inclusive: for 01-01 – 06-30 the 2026 window opens on 1 January 2026 and closes at the end of
30 June 2026. 02-29 is refused: a window must exist every year.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from shared.domain.errors import DomainError

_MMDD = re.compile(r"^(\d{2})-(\d{2})$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Window:
    """A window as its two ends, month and day each."""

    start: tuple[int, int]
    end: tuple[int, int]

    def opens(self, year: int) -> date:
        return date(year, *self.start)

    def closes(self, year: int) -> date:
        """The window's last day (inclusive)."""
        return date(year, *self.end)

    def last_closed_year(self, today: date) -> int:
        """The latest year whose window ended before `today`."""
        return today.year if today > self.closes(today.year) else today.year - 1


def _month_day(value: str, *, field: str, label: str) -> tuple[int, int]:
    match = _MMDD.match(value)
    problem = f"{label}必须是“MM-DD”格式的日期，例如 01-01"
    if match is None:
        raise DomainError("catalog.inspection_window", problem, {"field": field})
    month, day = int(match.group(1)), int(match.group(2))
    if (month, day) == (2, 29):
        raise DomainError(
            "catalog.inspection_window",
            f"{label}不能是 02-29（平年没有这一天）",
            {"field": field},
        )
    try:
        date(2001, month, day)  # a common year: every accepted day exists every year
    except ValueError:
        raise DomainError("catalog.inspection_window", problem, {"field": field}) from None
    return month, day


def parse_window(start: str, end: str) -> Window:
    """The window from its two ends; `DomainError` (code `catalog.inspection_window`, detail
    `field`) if either is not a day of the year or the end is not after the start."""
    window = Window(
        start=_month_day(start, field="inspection_window_start", label="年检开始日期"),
        end=_month_day(end, field="inspection_window_end", label="年检截止日期"),
    )
    if window.end <= window.start:
        raise DomainError(
            "catalog.inspection_window",
            "年检截止日期必须晚于开始日期，且在同一年内（不跨年）",
            {"field": "inspection_window_end"},
        )
    return window


def day_label(day: date) -> str:
    """“2026年06月30日”."""
    return f"{day.year}年{day.month:02d}月{day.day:02d}日"


def window_label(window: Window, year: int) -> str:
    """“2026年01月01日至2026年06月30日”."""
    return f"{day_label(window.opens(year))}至{day_label(window.closes(year))}"
