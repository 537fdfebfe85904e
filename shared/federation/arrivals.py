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
    """The (unsaved) arrival row of `lic`, received now with `payload`: online licences must
    arrive within FEDERATION_ONLINE_DEADLINE_SECONDS of case completion; offline within 1
    working day, bulk and legacy within 5, to the end of that day. Pass one `calendar` for a
    whole envelope: reading it costs a query."""
    committed = payload.get("committed_at")
    committed_at = datetime.fromisoformat(committed) if committed else now
    provisional = False
    if lic.mode == "online":
        deadline = lic.case_completed_at + timedelta(
            seconds=settings.FEDERATION_ONLINE_DEADLINE_SECONDS
        )
    else:
        days = 1 if lic.mode == "offline" else 5
        result = (calendar or workday_calendar()).add_workdays(
            timezone.localdate(lic.case_completed_at), days
        )
        provisional = result.provisional
        deadline = timezone.make_aware(datetime.combine(result.day, datetime.max.time()))
    return Arrival(
        key=base_key(
            type_code=lic.license_type.type_code, issuer_code=lic.issuer.code, serial=lic.serial
        ),
        library_code=lic.library_code,
        issuer_code=lic.issuer.code,
        mode=lic.mode,
        case_completed_at=lic.case_completed_at,
        committed_at=committed_at,
        arrived_at=now,
        lag_seconds=max(0.0, (now - committed_at).total_seconds()),
        deadline_at=deadline,
        deadline_provisional=provisional,
        late=now > deadline,
    )
