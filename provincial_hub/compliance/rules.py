"""The rules of the measures the hub evaluates every day (art. 31, 33), each a small function
from the day's context to the breaches it finds.

A rule answers per agency (the issuer that broke it) and, for aggregation, per city as well.
Each breach names its period (the year for the catalogue, the month for the rest): with the
notice's unique (rule, subject, period) and "no open notice for the same rule and subject"
(`provincial_hub.compliance.evaluation`), a breach found again the next day makes no new notice.

Reviews and inspections are read from their apps' models as the hub mirrors them
(`shared.reviews`, `shared.inspections`: the same rows under the same ids as at the city).
"""

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Exists, Min, OuterRef, Q
from django.utils import timezone

from shared.accounts.models import Agency
from shared.catalog.models import LicenseType
from shared.conf.divisions import CITIES
from shared.domain.notices import Rule
from shared.domain.workdays import WorkdayCalendar
from shared.federation.models import Arrival
from shared.federation.ownership import agency_library
from shared.inspections.models import Inspection
from shared.licenses.models import License
from shared.reviews.models import ReviewRequest

# How many examples (types, licences, requests) a breach's findings list at most.
EXAMPLES = 20


@dataclass(frozen=True, slots=True, kw_only=True)
class Breach:
    """A rule broken by one agency (or, with no agency, by one city's node) in one period."""

    rule: Rule
    agency: Agency | None
    city_code: str
    period: str
    summary: str
    findings: dict[str, Any] = field(default_factory=dict)

    @property
    def subject_key(self) -> str:
        return self.agency.code if self.agency is not None else self.city_code


@dataclass(frozen=True, slots=True, kw_only=True)
class Context:
    day: date
    calendar: WorkdayCalendar

    @property
    def end(self) -> datetime:
        """The end of the evaluated day (local time): what happened by then counts."""
        tz = timezone.get_current_timezone()
        return datetime.combine(self.day + timedelta(days=1), time.min, tzinfo=tz)

    @property
    def month(self) -> str:
        return self.day.strftime("%Y-%m")


def _city_of(agency: Agency) -> str:
    return agency_library(level=agency.level, area_code=agency.area_code)


def _agencies(ids: Iterable[int]) -> dict[int, Agency]:
    return {a.pk: a for a in Agency.objects.filter(pk__in=set(ids))}


# --- (a) the catalogue -----------------------------------------------------------------------


def catalog_unregistered(ctx: Context) -> list[Breach]:
    """Licences held here under a type never registered and published at the hub (art. 12)."""
    unpublished = Q(license_type__state=LicenseType.State.DRAFT) | Q(
        license_type__published_at__isnull=True
    )
    rows = (
        License.objects.filter(unpublished, created_at__lt=ctx.end)
        .values("issuer_id", "license_type__type_code", "license_type__name", "license_type__state")
        .annotate(n=Count("id"))
        .order_by("issuer_id", "license_type__type_code")
    )
    by_issuer: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_issuer[row["issuer_id"]].append(
            {
                "type_code": row["license_type__type_code"],
                "name": row["license_type__name"],
                "state": row["license_type__state"],
                "licenses": row["n"],
            }
        )
    agencies = _agencies(by_issuer)
    return [
        Breach(
            rule=Rule.catalog_unregistered,
            agency=agencies[issuer_id],
            city_code=_city_of(agencies[issuer_id]),
            period=str(ctx.day.year),
            summary=(
                f"{len(types)} 个证照类型未在省级库登记发布，其下已有 "
                f"{sum(t['licenses'] for t in types)} 张证照"
            ),
            findings={"types": types[:EXAMPLES], "type_count": len(types)},
        )
        for issuer_id, types in by_issuer.items()
    ]


def catalog_stale(ctx: Context) -> list[Breach]:
    """Published types with licences issued and no catalogue update for
    COMPLIANCE_CATALOG_STALE_DAYS (art. 11: the catalogue is maintained)."""
    days = settings.COMPLIANCE_CATALOG_STALE_DAYS
    since = ctx.end - timedelta(days=days)
    stale = (
        LicenseType.objects.filter(state=LicenseType.State.PUBLISHED, updated_at__lt=since)
        .filter(Exists(License.objects.filter(license_type=OuterRef("pk"))))
        .order_by("issuer_id", "type_code")
        .values("issuer_id", "type_code", "name", "updated_at")
    )
    by_issuer: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in stale:
        by_issuer[row["issuer_id"]].append(
            {
                "type_code": row["type_code"],
                "name": row["name"],
                "updated_at": row["updated_at"].isoformat(),
            }
        )
    agencies = _agencies(by_issuer)
    return [
        Breach(
            rule=Rule.catalog_stale,
            agency=agencies[issuer_id],
            city_code=_city_of(agencies[issuer_id]),
            period=str(ctx.day.year),
            summary=f"{len(types)} 个已签发证照的证照类型超过 {days} 天未维护",
            findings={"types": types[:EXAMPLES], "type_count": len(types), "stale_days": days},
        )
        for issuer_id, types in by_issuer.items()
    ]


# --- (b) aggregation -------------------------------------------------------------------------


def _late_counts(ctx: Context, group: str) -> dict[str, tuple[int, int]]:
    """(arrivals, late arrivals) per `group` value in the window ending with the day."""
    since = ctx.end - timedelta(days=settings.COMPLIANCE_LATE_WINDOW_DAYS)
    rows = (
        Arrival.objects.filter(arrived_at__gte=since, arrived_at__lt=ctx.end)
        .values(group)
        .annotate(total=Count("id"), late=Count("id", filter=Q(late=True)))
    )
    return {row[group]: (row["total"], row["late"]) for row in rows}


def _too_late(total: int, late: int) -> bool:
    return late >= settings.COMPLIANCE_LATE_MIN_COUNT and late / total > (
        settings.COMPLIANCE_LATE_RATIO
    )


def _late_summary(total: int, late: int) -> tuple[str, dict[str, Any]]:
    window = settings.COMPLIANCE_LATE_WINDOW_DAYS
    return (
        f"近 {window} 天汇聚的 {total} 张证照中有 {late} 张超过汇聚时限（{late / total:.0%}）",
        {
            "window_days": window,
            "arrivals": total,
            "late": late,
            "ratio": round(late / total, 4),
            "threshold_ratio": settings.COMPLIANCE_LATE_RATIO,
            "threshold_count": settings.COMPLIANCE_LATE_MIN_COUNT,
        },
    )


def aggregation_late(ctx: Context) -> list[Breach]:
    """Late arrivals (art. 14: the deadlines of `shared.domain.deadlines`) over the threshold,
    per issuing agency and per city, in the last COMPLIANCE_LATE_WINDOW_DAYS."""
    breaches = []
    for city, (total, late) in sorted(_late_counts(ctx, "library_code").items()):
        if city in CITIES and _too_late(total, late):
            summary, findings = _late_summary(total, late)
            breaches.append(
                Breach(
                    rule=Rule.aggregation_late,
                    agency=None,
                    city_code=city,
                    period=ctx.month,
                    summary=f"{CITIES[city]}节点{summary}",
                    findings=findings,
                )
            )
    by_issuer = _late_counts(ctx, "issuer_code")
    agencies = {a.code: a for a in Agency.objects.filter(code__in=list(by_issuer))}
    for code, (total, late) in sorted(by_issuer.items()):
        if code in agencies and _too_late(total, late):
            summary, findings = _late_summary(total, late)
            breaches.append(
                Breach(
                    rule=Rule.aggregation_late,
                    agency=agencies[code],
                    city_code=_city_of(agencies[code]),
                    period=ctx.month,
                    summary=summary,
                    findings=findings,
                )
            )
    return breaches


# --- (c) reviews, (d) inspections (their apps' models) -----------------------------------------


def reviews_overdue(ctx: Context) -> list[Breach]:
    """Open review requests past their deadline (art. 24: 5 working days), per issuer."""
    overdue = ReviewRequest.objects.filter(overdue=True, state=ReviewRequest.State.OPEN)
    rows = overdue.values("issuer_id").annotate(n=Count("pk"), oldest=Min("deadline"))
    breaches = []
    agencies = _agencies(row["issuer_id"] for row in rows)
    for row in rows:
        if row["n"] < settings.COMPLIANCE_REVIEWS_OVERDUE_MIN:
            continue
        agency = agencies[row["issuer_id"]]
        examples = list(
            overdue.filter(issuer_id=row["issuer_id"])
            .order_by("deadline")
            .values_list("identifier", flat=True)[:EXAMPLES]
        )
        breaches.append(
            Breach(
                rule=Rule.reviews_overdue,
                agency=agency,
                city_code=_city_of(agency),
                period=ctx.month,
                summary=f"{row['n']} 件复核申请逾期未办理（最早期限 {row['oldest']}）",
                findings={
                    "overdue": row["n"],
                    "oldest_deadline": row["oldest"].isoformat(),
                    "identifiers": examples,
                },
            )
        )
    return breaches


def inspections_backlog(ctx: Context) -> list[Breach]:
    """Inspections submitted and undecided for more than COMPLIANCE_INSPECTION_BACKLOG_DAYS
    working days (art. 26), per issuer."""
    days = settings.COMPLIANCE_INSPECTION_BACKLOG_DAYS
    # N working days are at least N calendar days: a cheap bound before counting exactly.
    candidates = Inspection.objects.filter(
        state=Inspection.State.SUBMITTED, submitted_at__lt=ctx.end - timedelta(days=days)
    ).values_list("issuer_id", "submitted_at")
    waiting: dict[int, list[date]] = defaultdict(list)
    tz = timezone.get_current_timezone()
    for issuer_id, submitted_at in candidates:
        submitted = submitted_at.astimezone(tz).date()
        if ctx.calendar.workdays_between(submitted, ctx.day)[0] > days:
            waiting[issuer_id].append(submitted)
    agencies = _agencies(waiting)
    breaches = []
    for issuer_id, dates in sorted(waiting.items()):
        if len(dates) < settings.COMPLIANCE_INSPECTION_BACKLOG_MIN:
            continue
        agency = agencies[issuer_id]
        breaches.append(
            Breach(
                rule=Rule.inspections_backlog,
                agency=agency,
                city_code=_city_of(agency),
                period=ctx.month,
                summary=f"{len(dates)} 件年检申请超过 {days} 个工作日未审核",
                findings={
                    "waiting": len(dates),
                    "oldest_submitted": min(dates).isoformat(),
                    "backlog_days": days,
                },
            )
        )
    return breaches


# In the order the daily run evaluates them.
RULES: dict[Rule, Callable[[Context], list[Breach]]] = {
    Rule.catalog_unregistered: catalog_unregistered,
    Rule.catalog_stale: catalog_stale,
    Rule.aggregation_late: aggregation_late,
    Rule.reviews_overdue: reviews_overdue,
    Rule.inspections_backlog: inspections_backlog,
}
