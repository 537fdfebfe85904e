"""What the rollup reads, one source per kind of record, and what each row adds to the counters.

Append-only sources (`KeyedSource`) are read past a growing key: licence events and arrivals by
id, access records by their place in the hash chain (`seq`, given under a lock, so it commits
in order and never leaves a gap behind). Mutable sources (`MutableSource`: review requests and
inspections, changed in place) are read by `(updated_at, id)`; each of their rows carries facts
(received, answered, overdue …) that are counted once, remembered in `Fact`.

The review and inspection models come from `shared.reviews` and `shared.inspections`
(CONTRACT12); a library whose code lacks them simply has no such source.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db.models import DateField, Model, Q, QuerySet
from django.db.models.functions import TruncMonth
from django.utils import timezone

from shared.access.models import AccessRecord
from shared.federation.models import Arrival
from shared.licenses.models import LicenseEvent

# (month, library_code, agency_code, type_code, metric, consumer_code, matter_code)
CounterKey = tuple[date, str, str, str, str, str, str]

COUNTED_OPERATIONS = frozenset(
    {
        AccessRecord.Operation.QUERY.value,
        AccessRecord.Operation.VERIFY.value,
        AccessRecord.Operation.COMPARE.value,
    }
)


def month_of(moment: datetime | date) -> date:
    """The first day of the month `moment` falls in, in the library's zone (Asia/Shanghai):
    an event at 2026-11-30T23:30+08:00 is November's."""
    if isinstance(moment, datetime):
        moment = timezone.localtime(moment, timezone.get_default_timezone()).date()
    return moment.replace(day=1)


def _truncated_month(field: str) -> TruncMonth:
    """The month of `field`, truncated by the database in the library's zone, as a date (no
    conversion per row in Python)."""
    return TruncMonth(field, tzinfo=timezone.get_default_timezone(), output_field=DateField())


def counts_library(library_code: str) -> bool:
    """Whether this library counts licences of `library_code`: the hub every city's
    (STATISTICS_ALL_LIBRARIES), a city only its own (not the provincial ones pushed down)."""
    return settings.STATISTICS_ALL_LIBRARIES or library_code == settings.LIBRARY_CODE


# --- append-only sources ----------------------------------------------------------------------


class KeyedSource:
    """Rows appended with a growing key; `gaps_possible`: the key is drawn before commit, so a
    later key may commit first (ids), unlike the access log's seq."""

    name: str = ""
    key: str = "id"
    gaps_possible: bool = True

    def rows(self) -> QuerySet[Any, Any]:
        """The rows as value tuples, the key first."""
        raise NotImplementedError

    def prepare(self) -> None:
        """Anything to do before reading (outside the rollup's transaction)."""

    def tally(self, rows: Iterable[tuple[Any, ...]]) -> Tally[CounterKey]:
        raise NotImplementedError

    def rows_after(self, last: int, limit: int) -> list[tuple[Any, ...]]:
        return list(self.rows().filter(**{f"{self.key}__gt": last}).order_by(self.key)[:limit])

    def rows_in(self, ranges: list[tuple[int, int]]) -> list[tuple[Any, ...]]:
        """The rows whose keys fall in any of `ranges` (inclusive), found since they were missed."""
        found: list[tuple[Any, ...]] = []
        for start in range(0, len(ranges), 200):  # a statement of a bounded size
            where = Q()
            for low, high in ranges[start : start + 200]:
                where |= Q(**{f"{self.key}__range": (low, high)})
            found += self.rows().filter(where).order_by(self.key)
        return found


class LicenseEventSource(KeyedSource):
    """Every lifecycle event, by its action: issued, renewed, suspended … (art. 31)."""

    name = "license_event"

    def rows(self) -> QuerySet[Any, Any]:
        return LicenseEvent.objects.annotate(m=_truncated_month("created_at")).values_list(
            "id",
            "m",
            "action",
            "license__library_code",
            "license__issuer__code",
            "license__license_type__type_code",
        )

    def tally(self, rows: Iterable[tuple[Any, ...]]) -> Tally[CounterKey]:
        counts: Tally[CounterKey] = Tally()
        for _, month, action, library, agency, type_code in rows:
            if counts_library(library):
                counts[(month, library, agency, type_code, action, "", "")] += 1
        return counts


class AccessSource(KeyedSource):
    """Queries, verifications and comparisons, by consumer agency and matter (art. 27); refused
    ones are counted apart. One row per licence used (a query answering three counts three)."""

    name = "access"
    key = "seq"
    gaps_possible = False

    def prepare(self) -> None:
        # Records join the chain in batches (every ACCESS_CHECKPOINT_SECONDS): chain the
        # waiting ones now, so a rollup on demand counts up to the moment.
        from shared.access import log

        log.log_sequence()

    def rows(self) -> QuerySet[Any, Any]:
        return AccessRecord.objects.annotate(m=_truncated_month("occurred_at")).values_list(
            "seq",
            "m",
            "operation",
            "outcome",
            "source_library",
            "library_code",
            "issuer_code",
            "type_code",
            "agency_code",
            "matter_code",
        )

    def tally(self, rows: Iterable[tuple[Any, ...]]) -> Tally[CounterKey]:
        counts: Tally[CounterKey] = Tally()
        refused = AccessRecord.Outcome.REFUSED.value
        for (
            _,
            month,
            operation,
            outcome,
            source,
            library,
            issuer,
            type_code,
            consumer,
            matter,
        ) in rows:
            if operation not in COUNTED_OPERATIONS:
                continue
            metric = "access_refused" if outcome == refused else operation
            # the licence's library where one was found, else the library asked
            key = (month, source or library, issuer, type_code, metric, consumer, matter)
            counts[key] += 1
        return counts


class ArrivalSource(KeyedSource):
    """Licences reaching this library, and those that arrived after their deadline (art. 14)."""

    name = "arrival"

    def rows(self) -> QuerySet[Any, Any]:
        return Arrival.objects.annotate(m=_truncated_month("arrived_at")).values_list(
            "id", "m", "library_code", "issuer_code", "key", "late"
        )

    def tally(self, rows: Iterable[tuple[Any, ...]]) -> Tally[CounterKey]:
        counts: Tally[CounterKey] = Tally()
        for _, month, library, issuer, key, late in rows:
            if not counts_library(library):
                continue
            type_code = key.split(".", 1)[0]  # the key is type_code.issuer_code.serial
            base = (month, library, issuer, type_code)
            counts[(*base, "arrival", "", "")] += 1
            if late:
                counts[(*base, "arrival_late", "", "")] += 1
        return counts


# --- mutable sources --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Fact:
    """One countable fact of a mutable row: its bit, its metrics and the month it falls in."""

    bit: int
    metrics: tuple[str, ...]
    month: date


class MutableSource:
    """Rows changed in place, read by `(updated_at, id)`; `facts(row)` says what a row in its
    present state has to be counted for."""

    name: str = ""
    model_label: str = ""

    def model(self) -> type[Model] | None:
        """The model, or None where this code base does not have it (yet)."""
        app_label, model_name = self.model_label.split(".")
        try:
            return apps.get_model(app_label, model_name)
        except LookupError:
            return None

    def rows_after(self, after: tuple[datetime, str] | None, limit: int) -> list[dict[str, Any]]:
        model = self.model()
        assert model is not None
        rows = model._default_manager.all()
        if after is not None:
            moment, last_id = after
            rows = rows.filter(
                Q(updated_at__gt=moment) | Q(updated_at=moment, id__gt=last_id)
                if last_id
                else Q(updated_at__gte=moment)
            )
        return list(rows.order_by("updated_at", "id").values(*self.fields())[:limit])

    def fields(self) -> tuple[str, ...]:
        raise NotImplementedError

    def dimensions(self, row: dict[str, Any]) -> tuple[str, str, str, str, str]:
        """(library, agency, type, consumer, matter) of a row."""
        raise NotImplementedError

    def facts(self, row: dict[str, Any]) -> list[Fact]:
        raise NotImplementedError


class ReviewSource(MutableSource):
    """Review requests (art. 24): received, how answered and whether on time, overdue."""

    name = "review"
    model_label = "reviews.ReviewRequest"
    RECEIVED, ANSWERED, OVERDUE = 1, 2, 4

    def fields(self) -> tuple[str, ...]:
        return (
            "id",
            "updated_at",
            "library_code",
            "issuer__code",
            "license_type__type_code",
            "requester_agency_code",
            "matter_code",
            "received_at",
            "state",
            "answered_at",
            "answered_late",
            "overdue",
            "deadline",
        )

    def dimensions(self, row: dict[str, Any]) -> tuple[str, str, str, str, str]:
        return (
            row["library_code"],
            row["issuer__code"],
            row["license_type__type_code"],
            row["requester_agency_code"] or "",
            row["matter_code"] or "",
        )

    def facts(self, row: dict[str, Any]) -> list[Fact]:
        found = [
            Fact(
                bit=self.RECEIVED, metrics=("review_received",), month=month_of(row["received_at"])
            )
        ]
        if row["state"] != "open" and row["answered_at"] is not None:
            timing = "review_late" if row["answered_late"] else "review_on_time"
            found.append(
                Fact(
                    bit=self.ANSWERED,
                    metrics=(f"review_{row['state']}", timing),
                    month=month_of(row["answered_at"]),
                )
            )
        if row["overdue"]:
            found.append(
                Fact(bit=self.OVERDUE, metrics=("review_overdue",), month=month_of(row["deadline"]))
            )
        return found


class InspectionSource(MutableSource):
    """Annual inspections (art. 26): submitted, approved (late or not), refused."""

    name = "inspection"
    model_label = "inspections.Inspection"
    SUBMITTED, APPROVED, REFUSED = 1, 2, 4

    def fields(self) -> tuple[str, ...]:
        return (
            "id",
            "updated_at",
            "library_code",
            "issuer__code",
            "license_type__type_code",
            "state",
            "submitted_at",
            "decided_at",
            "late",
        )

    def dimensions(self, row: dict[str, Any]) -> tuple[str, str, str, str, str]:
        return (row["library_code"], row["issuer__code"], row["license_type__type_code"], "", "")

    def facts(self, row: dict[str, Any]) -> list[Fact]:
        found = [
            Fact(
                bit=self.SUBMITTED,
                metrics=("inspection_submitted",),
                month=month_of(row["submitted_at"]),
            )
        ]
        if row["decided_at"] is not None and row["state"] == "approved":
            metrics = (
                ("inspection_approved", "inspection_late")
                if row["late"]
                else ("inspection_approved",)
            )
            found.append(
                Fact(bit=self.APPROVED, metrics=metrics, month=month_of(row["decided_at"]))
            )
        elif row["decided_at"] is not None and row["state"] == "refused":
            found.append(
                Fact(
                    bit=self.REFUSED,
                    metrics=("inspection_refused",),
                    month=month_of(row["decided_at"]),
                )
            )
        return found


KEYED_SOURCES: tuple[KeyedSource, ...] = (LicenseEventSource(), AccessSource(), ArrivalSource())
MUTABLE_SOURCES: tuple[MutableSource, ...] = (ReviewSource(), InspectionSource())


def source_names() -> list[str]:
    """The sources this library has, in the order the rollup reads them."""
    present = [s.name for s in MUTABLE_SOURCES if s.model() is not None]
    return [s.name for s in KEYED_SOURCES] + present
