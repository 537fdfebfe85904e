"""The working-day calendar: chinese_calendar, the override table, the provisional fallback.

Facts asserted here were read from chinesecalendar 1.11 (the State Council's 2026 schedule):
the Spring Festival holiday runs Sunday 2026-02-15 to Monday 2026-02-23, with Saturday
2026-02-14 and Saturday 2026-02-28 as adjusted working days; New Year's holiday is
2026-01-01 to 2026-01-03 with Sunday 2026-01-04 worked.
"""

from __future__ import annotations

from datetime import date

import pytest

from shared.domain.workdays import (
    WorkdayCalendar,
    WorkdayResult,
    add_workdays,
    workdays_between,
)


@pytest.fixture
def calendar() -> WorkdayCalendar:
    return WorkdayCalendar()


@pytest.mark.parametrize(
    ("day", "is_workday"),
    [
        (date(2026, 2, 13), True),  # Friday
        (date(2026, 2, 14), True),  # Saturday, adjusted working day
        (date(2026, 2, 15), False),  # Sunday, holiday starts
        (date(2026, 2, 16), False),
        (date(2026, 2, 17), False),  # 春节 (New Year's Day of the lunar calendar)
        (date(2026, 2, 18), False),
        (date(2026, 2, 19), False),
        (date(2026, 2, 20), False),
        (date(2026, 2, 21), False),
        (date(2026, 2, 22), False),
        (date(2026, 2, 23), False),  # Monday, last holiday
        (date(2026, 2, 24), True),  # Tuesday, back to work
        (date(2026, 2, 28), True),  # Saturday, adjusted working day
        (date(2026, 1, 1), False),
        (date(2026, 1, 2), False),  # a Friday off
        (date(2026, 1, 4), True),  # a Sunday worked
        (date(2026, 1, 10), False),  # an ordinary Saturday
    ],
)
def test_2026_days(calendar: WorkdayCalendar, day: date, is_workday: bool) -> None:
    assert calendar.is_workday(day) == (is_workday, False)


def test_one_working_day_after_a_friday_is_the_monday(calendar: WorkdayCalendar) -> None:
    assert calendar.add_workdays(date(2026, 1, 9), 1) == WorkdayResult(
        day=date(2026, 1, 12), provisional=False
    )


def test_zero_working_days_is_the_start_day(calendar: WorkdayCalendar) -> None:
    assert calendar.add_workdays(date(2026, 1, 10), 0) == WorkdayResult(
        day=date(2026, 1, 10), provisional=False
    )


def test_negative_days_are_a_programming_error(calendar: WorkdayCalendar) -> None:
    with pytest.raises(ValueError):
        calendar.add_workdays(date(2026, 1, 9), -1)


def test_across_the_spring_festival(calendar: WorkdayCalendar) -> None:
    # Friday 13th: +1 is the adjusted Saturday 14th, +2 jumps the nine-day holiday.
    assert calendar.add_workdays(date(2026, 2, 13), 1).day == date(2026, 2, 14)
    assert calendar.add_workdays(date(2026, 2, 13), 2).day == date(2026, 2, 24)
    # 5 working days from the 14th: 24, 25, 26, 27 and the adjusted Saturday 28th.
    assert calendar.add_workdays(date(2026, 2, 14), 5) == WorkdayResult(
        day=date(2026, 2, 28), provisional=False
    )
    # A case completed during the holiday: the clock starts on the first working day after.
    assert calendar.add_workdays(date(2026, 2, 17), 1).day == date(2026, 2, 24)


def test_workdays_between_across_the_spring_festival(calendar: WorkdayCalendar) -> None:
    # (13th, 28th]: 14th, 24th–27th, 28th.
    assert calendar.workdays_between(date(2026, 2, 13), date(2026, 2, 28)) == (6, False)
    # (14th, 23rd]: all holiday.
    assert calendar.workdays_between(date(2026, 2, 14), date(2026, 2, 23)) == (0, False)
    # The interval excludes the start and includes the end.
    assert calendar.workdays_between(date(2026, 2, 23), date(2026, 2, 24)) == (1, False)


def test_workdays_between_an_empty_or_reversed_interval(calendar: WorkdayCalendar) -> None:
    assert calendar.workdays_between(date(2026, 2, 24), date(2026, 2, 24)) == (0, False)
    assert calendar.workdays_between(date(2026, 2, 24), date(2026, 2, 1)) == (0, False)


def test_an_override_turns_a_holiday_into_a_working_day() -> None:
    # given: the operator records the 16th as worked (e.g. a local decision)
    calendar = WorkdayCalendar({date(2026, 2, 16): True})

    # then
    assert calendar.is_workday(date(2026, 2, 16)) == (True, False)
    assert calendar.add_workdays(date(2026, 2, 14), 1).day == date(2026, 2, 16)
    assert calendar.workdays_between(date(2026, 2, 14), date(2026, 2, 24)) == (2, False)


def test_an_override_turns_a_working_day_into_a_holiday() -> None:
    calendar = WorkdayCalendar({date(2026, 1, 12): False})

    assert calendar.is_workday(date(2026, 1, 12)) == (False, False)
    assert calendar.add_workdays(date(2026, 1, 9), 1).day == date(2026, 1, 13)


def test_overrides_are_copied_at_construction() -> None:
    table = {date(2026, 1, 12): False}
    calendar = WorkdayCalendar(table)

    table[date(2026, 1, 12)] = True

    assert calendar.is_workday(date(2026, 1, 12)) == (False, False)


@pytest.mark.parametrize(
    ("day", "is_workday"),
    [
        (date(2027, 1, 1), True),  # a Friday: surely a holiday, but there is no data yet
        (date(2027, 1, 2), False),  # Saturday
        (date(2027, 1, 3), False),  # Sunday
        (date(2027, 1, 4), True),  # Monday
        (date(2027, 2, 8), True),
        (date(2035, 6, 1), True),
        (date(2003, 12, 31), True),  # before the data starts
        (date(2003, 12, 27), False),
    ],
)
def test_past_the_data_monday_to_friday_is_provisional(
    calendar: WorkdayCalendar, day: date, is_workday: bool
) -> None:
    assert calendar.is_workday(day) == (is_workday, True)


def test_an_override_past_the_data_is_not_provisional() -> None:
    calendar = WorkdayCalendar({date(2027, 1, 1): False})

    assert calendar.is_workday(date(2027, 1, 1)) == (False, False)


def test_a_deadline_running_into_2027_is_provisional(calendar: WorkdayCalendar) -> None:
    # Thursday 2026-12-31 + 1 → Friday 2027-01-01 (Monday–Friday fallback)
    assert calendar.add_workdays(date(2026, 12, 31), 1) == WorkdayResult(
        day=date(2027, 1, 1), provisional=True
    )
    # Wednesday 2026-12-30 + 1 → Thursday 31st, never consulting 2027
    assert calendar.add_workdays(date(2026, 12, 30), 1) == WorkdayResult(
        day=date(2026, 12, 31), provisional=False
    )
    # Friday 2027-01-08 + 5 → Friday 2027-01-15
    assert calendar.add_workdays(date(2027, 1, 8), 5) == WorkdayResult(
        day=date(2027, 1, 15), provisional=True
    )


def test_workdays_between_into_2027_is_provisional(calendar: WorkdayCalendar) -> None:
    # (Wed 2026-12-30, Mon 2027-01-04]: 31st, Jan 1st (fallback), Jan 4th.
    assert calendar.workdays_between(date(2026, 12, 30), date(2027, 1, 4)) == (3, True)


def test_module_level_functions_use_the_given_calendar() -> None:
    calendar = WorkdayCalendar({date(2026, 1, 12): False})

    assert add_workdays(date(2026, 1, 9), 1).day == date(2026, 1, 12)
    assert add_workdays(date(2026, 1, 9), 1, calendar=calendar).day == date(2026, 1, 13)
    assert workdays_between(date(2026, 1, 9), date(2026, 1, 13)) == (2, False)
    assert workdays_between(date(2026, 1, 9), date(2026, 1, 13), calendar=calendar) == (1, False)
