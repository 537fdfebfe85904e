"""Deadlines at risk for /metrics: open items that must be answered by the end of the next
working day, and those whose deadline has already passed, per library that must answer.

Each kind of item is a source (settings.METRICS_DEADLINE_SOURCES: kind → dotted path of a
function) so that a tier adds its own without shared/ importing it: review requests here, the
hub's rectification notices in provincial_hub.compliance.metrics, a city's copies of them in
municipal_node.notices.metrics. A source reads only rows due by the next working day through
an index on (state, deadline): the open items further out are never touched.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.module_loading import import_string
from prometheus_client.core import GaugeMetricFamily, Metric


@dataclass(frozen=True, slots=True, kw_only=True)
class Window:
    """Today (local time, where deadlines are days) and the next working day after it."""

    today: date
    next_workday: date


# owner (the library that must answer) → (due by the next working day, overdue)
Counts = dict[str, tuple[int, int]]
Source = Callable[[Window], Counts]


def count_due(queryset: QuerySet, *, owner: str, window: Window) -> Counts:
    """Count `queryset`'s rows (already narrowed to the open ones) by `owner`: due today or by
    the next working day, and overdue (deadline before today)."""
    rows = (
        queryset.filter(deadline__lte=window.next_workday)
        .values(owner)
        .annotate(
            due=Count("pk", filter=Q(deadline__gte=window.today)),
            overdue=Count("pk", filter=Q(deadline__lt=window.today)),
        )
        .order_by()
    )
    return {row[owner]: (row["due"], row["overdue"]) for row in rows}


def review_deadlines(window: Window) -> Counts:
    """Review requests (art. 24) not answered yet; at the hub also the cities' (mirrors)."""
    from shared.reviews.models import ReviewRequest

    open_requests = ReviewRequest.objects.filter(state=ReviewRequest.State.OPEN)
    return count_due(open_requests, owner="library_code", window=window)


def current_window() -> Window:
    from shared.calendars.selectors import workday_calendar

    today = timezone.localdate()
    return Window(today=today, next_workday=workday_calendar().add_workdays(today, 1).day)


class DeadlineCollector:
    """elicense_deadlines_at_risk and elicense_deadlines_overdue, by kind and owner; this
    library's own series are always there (0 included) so that an alert has one to watch."""

    def collect(self) -> Iterator[Metric]:
        library = settings.LIBRARY_CODE
        window = current_window()
        at_risk = GaugeMetricFamily(
            "elicense_deadlines_at_risk",
            "Open items due by the end of the next working day, not answered yet",
            labels=["library", "kind", "owner"],
        )
        overdue = GaugeMetricFamily(
            "elicense_deadlines_overdue",
            "Open items whose answer deadline has passed",
            labels=["library", "kind", "owner"],
        )
        for kind, path in sorted(settings.METRICS_DEADLINE_SOURCES.items()):
            source: Source = import_string(path)
            counts = {library: (0, 0), **source(window)}
            for owner, (due, late) in sorted(counts.items()):
                at_risk.add_metric([library, kind, owner], due)
                overdue.add_metric([library, kind, owner], late)
        yield from (at_risk, overdue)
