"""Reads: the working-day calendar with this library's overrides."""

from shared.calendars.models import WorkdayOverride
from shared.domain.workdays import WorkdayCalendar


def workday_calendar() -> WorkdayCalendar:
    """A calendar with every override row applied (the table is small: tens of rows a year)."""
    overrides = dict(WorkdayOverride.objects.values_list("day", "is_workday"))
    return WorkdayCalendar(overrides)
