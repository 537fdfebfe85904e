"""Timeliness (art. 14): when a licence first arrives, measured against its deadline."""

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from shared.calendars.selectors import workday_calendar
from shared.domain.workdays import WorkdayCalendar
from shared.federation.digests import base_key
from shared.federation.models import Arrival
from shared.licenses.models import License


def arrival_for(
    lic: License,
    payload: dict[str, Any],
    *,
    now: datetime,
    calendar: WorkdayCalendar | None = None,
) -> Arrival:
    """The (unsaved) arrival row of `lic`, received now with `payload`."""
    return Arrival(
        **arrival_values(
            type_code=lic.license_type.type_code,
            issuer_code=lic.issuer.code,
            serial=lic.serial,
            library_code=lic.library_code,
            mode=lic.mode,
            case_completed_at=lic.case_completed_at,
            payload=payload,
            now=now,
            calendar=calendar,
        )
    )


def arrival_values(
    *,
    type_code: str,
    issuer_code: str,
    serial: str,
    library_code: str,
    mode: str,
    case_completed_at: datetime,
    payload: dict[str, Any],
    now: datetime,
    calendar: WorkdayCalendar | None = None,
) -> dict[str, Any]:
    """The columns of a licence's arrival, received now with `payload`: online licences must
    arrive within FEDERATION_ONLINE_DEADLINE_SECONDS of case completion; offline within 1
    working day, bulk and legacy within 5, to the end of that day. Pass one `calendar` for a
    whole envelope: reading it costs a query."""
    committed = payload.get("committed_at")
    committed_at = datetime.fromisoformat(committed) if committed else now
    provisional = False
    if mode == "online":
        deadline = case_completed_at + timedelta(
            seconds=settings.FEDERATION_ONLINE_DEADLINE_SECONDS
        )
    else:
        days = 1 if mode == "offline" else 5
        result = (calendar or workday_calendar()).add_workdays(
            timezone.localdate(case_completed_at), days
        )
        provisional = result.provisional
        deadline = timezone.make_aware(datetime.combine(result.day, datetime.max.time()))
    return {
        "key": base_key(type_code=type_code, issuer_code=issuer_code, serial=serial),
        "library_code": library_code,
        "issuer_code": issuer_code,
        "mode": mode,
        "case_completed_at": case_completed_at,
        "committed_at": committed_at,
        "arrived_at": now,
        "lag_seconds": max(0.0, (now - committed_at).total_seconds()),
        "deadline_at": deadline,
        "deadline_provisional": provisional,
        "late": now > deadline,
    }
