"""Reads: notices as each reader may see them, the public criticism list, and timeliness.

- the supervisor and the hub's library administrator read every notice;
- the staff of a provincial agency read their agency's notices (they answer them here);
- nobody else reads any (a city's agencies read theirs at their node).
"""

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone

from provincial_hub.compliance.models import EvaluationRun, NoticeStep, RectificationNotice
from shared.accounts.models import User
from shared.conf.divisions import CITIES
from shared.core.errors import ForbiddenError, NotFoundError
from shared.domain.notices import RULE_LABELS, NoticeState
from shared.federation.models import Arrival


def may_read_notices(user: User) -> bool:
    return bool(user.is_supervisor or user.is_library_admin or user.agency_id is not None)


def notice_list(*, user: User) -> QuerySet[RectificationNotice]:
    if not may_read_notices(user):
        raise ForbiddenError("compliance.forbidden", "无权查看整改通知")
    notices = RectificationNotice.objects.select_related("agency", "issued_by").prefetch_related(
        Prefetch("steps", queryset=NoticeStep.objects.order_by("seq"))
    )
    if user.is_supervisor or user.is_library_admin:
        return notices
    if user.agency is None:
        return notices.none()
    return notices.filter(agency=user.agency, city_code=settings.LIBRARY_CODE)


def notice_get(*, user: User, notice_id: Any) -> RectificationNotice:
    notice = notice_list(user=user).filter(pk=notice_id).first()
    if notice is None:
        raise NotFoundError("compliance.notice_not_found", "整改通知不存在")
    return notice


def criticism_list() -> QuerySet[RectificationNotice]:
    """Every notice escalated to public criticism, the latest first (the criticism stays on
    record after the agency rectifies)."""
    return (
        RectificationNotice.objects.filter(escalated_at__isnull=False)
        .select_related("agency")
        .order_by("-escalated_at", "pk")
    )


def subject_name(notice: RectificationNotice) -> str:
    if notice.agency is not None:
        return notice.agency.name
    return f"{CITIES.get(notice.city_code, notice.city_code)}电子证照库"


def evaluation_runs() -> QuerySet[EvaluationRun]:
    return EvaluationRun.objects.all()


def timeliness(*, since: datetime | None = None, until: datetime | None = None) -> dict[str, Any]:
    """Arrivals and late arrivals (art. 14) per city and per issuing agency in a window
    (default: the last COMPLIANCE_LATE_WINDOW_DAYS), as the aggregation rule reads them."""
    until = until or timezone.now()
    since = since or until - timedelta(days=settings.COMPLIANCE_LATE_WINDOW_DAYS)
    arrivals = Arrival.objects.filter(arrived_at__gte=since, arrived_at__lt=until)

    def grouped(field: str) -> list[dict[str, Any]]:
        rows = (
            arrivals.values(field)
            .annotate(arrivals=Count("id"), late=Count("id", filter=Q(late=True)))
            .order_by("-late", field)
        )
        return [
            {
                "code": row[field],
                "arrivals": row["arrivals"],
                "late": row["late"],
                "late_ratio": round(row["late"] / row["arrivals"], 4) if row["arrivals"] else 0.0,
            }
            for row in rows
        ]

    return {
        "since": since,
        "until": until,
        "cities": [
            {**row, "name": CITIES.get(row["code"], row["code"])} for row in grouped("library_code")
        ],
        "issuers": grouped("issuer_code"),
    }


def criticism_row(notice: RectificationNotice) -> dict[str, Any]:
    """A notice as the public criticism page shows it: who, for what, when; no findings."""
    tz = timezone.get_current_timezone()
    escalated_at = notice.escalated_at or notice.issued_at
    return {
        "id": notice.pk,
        "subject_name": subject_name(notice),
        "city": CITIES.get(notice.city_code, "省级"),
        "rule": notice.rule,
        "rule_label": RULE_LABELS.get(notice.rule, notice.rule),  # type: ignore[call-overload]
        "summary": notice.summary,
        "issued_on": notice.issued_at.astimezone(tz).date(),
        "deadline": notice.deadline,
        "escalated_on": escalated_at.astimezone(tz).date(),
        "rectified": notice.state == NoticeState.accepted,
    }
