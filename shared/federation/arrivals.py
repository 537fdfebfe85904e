"""Timeliness (art. 14): when a licence first arrives, measured against its deadline."""

from datetime import datetime, tzinfo
from typing import Any

from django.conf import settings
from django.utils import timezone

from shared.calendars.selectors import workday_calendar
from shared.domain.deadlines import sync_deadline
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
    tz: tzinfo | None = None,
) -> dict[str, Any]:
    """The columns of a licence's arrival, received now with `payload`, measured against its
    sync deadline (`shared.domain.deadlines`, online: FEDERATION_ONLINE_DEADLINE_SECONDS).
    Pass one `calendar` and `tz` (the current time zone) for a whole envelope: reading the
    calendar costs a query, and looking up the zone for each of a thousand licences was 5 %
    of the hub's ingest."""
    committed = payload.get("committed_at")
    committed_at = datetime.fromisoformat(committed) if committed else now
    deadline = sync_deadline(
        mode=mode,
        case_completed_at=case_completed_at,
        online_seconds=settings.FEDERATION_ONLINE_DEADLINE_SECONDS,
        # this library's calendar, read only if a working-day rule asks (online ones do not)
        add_workdays=lambda start, days: (calendar or workday_calendar()).add_workdays(start, days),
        tz=tz or timezone.get_current_timezone(),
    )
    return {
        "key": base_key(type_code=type_code, issuer_code=issuer_code, serial=serial),
        "library_code": library_code,
        "issuer_code": issuer_code,
        "mode": mode,
        "case_completed_at": case_completed_at,
        "committed_at": committed_at,
        "arrived_at": now,
        "lag_seconds": max(0.0, (now - committed_at).total_seconds()),
        "deadline_at": deadline.at,
        "deadline_provisional": deadline.provisional,
        "late": now > deadline.at,
    }
