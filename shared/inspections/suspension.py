"""When a window closes: suspend the licences that were not inspected (beat, daily).

For each type that requires annual inspection, the latest year Y whose window ended before
today is looked at. A licence is suspended for Y when it is:
- valid, released and of this library (`library_code == LIBRARY_CODE`: a mirror is suspended
  where it was issued, and the suspension then travels like any licence event);
- issued before Y's window opened (a licence issued during or after the window had no full
  year to be inspected for: its first inspection is the next year's);
- not inspected for Y (`inspected_year` null or earlier), and without a submission for Y (or
  later) still waiting for the issuer: a holder who submitted on time is not punished for the
  issuer's delay; if that submission is refused, the next daily run suspends the licence.

The suspension is the lifecycle's `suspend` by the system (`actor=None`) with the reason
“未按期完成年检（Y 年度）” and the event data `{"cause": "inspection", "year": Y}`; each
licence is its own transaction (as `license_expire_due`), so a run is idempotent and one
failure does not hold back the rest. An approval of Y (or a later year) resumes exactly the
licences whose current suspension has that cause (`suspended_for_inspection`); a licence the
issuer suspended for another reason stays suspended.
"""

import logging
from datetime import date, datetime, time

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from shared.catalog.models import LicenseType
from shared.core.errors import PermanentError
from shared.domain.errors import DomainError
from shared.domain.status import Action, Status
from shared.domain.windows import Window, parse_window
from shared.inspections.models import Inspection
from shared.licenses import lookups
from shared.licenses.models import License, LicenseEvent
from shared.licenses.services import license_act

logger = logging.getLogger(__name__)

CAUSE = "inspection"
RESUME_REASON = "年检通过，恢复"


def suspend_reason(year: int) -> str:
    return f"未按期完成年检（{year} 年度）"


def suspended_for_inspection(lic: License, *, up_to: int) -> bool:
    """Whether the licence's current suspension is the beat's, for a year up to `up_to`."""
    last = LicenseEvent.objects.filter(license=lic, action=Action.suspend).order_by("-seq").first()
    if last is None or last.data.get("cause") != CAUSE:
        return False
    year = last.data.get("year")
    return isinstance(year, int) and year <= up_to


def _opening(window: Window, year: int) -> datetime:
    return timezone.make_aware(datetime.combine(window.opens(year), time.min))


def overdue(queryset: QuerySet[License], *, year: int, opened: datetime) -> QuerySet[License]:
    """The licences of `queryset` to suspend for `year` whose window opened at `opened`."""
    waiting = Inspection.objects.filter(
        license=OuterRef("pk"), state=Inspection.State.SUBMITTED, year__gte=year
    )
    return (
        queryset.filter(
            status=Status.valid, library_code=settings.LIBRARY_CODE, created_at__lt=opened
        )
        .filter(Q(inspected_year__isnull=True) | Q(inspected_year__lt=year))
        .exclude(Exists(waiting))
    )


def _suspend_one(pk: int, *, year: int, opened: datetime) -> bool:
    """Suspend one licence if it is still overdue once locked (an approval or a submission
    may have committed since it was listed)."""
    with transaction.atomic():
        terms = lookups.licence_terms(pk=pk)
        lic = License.objects.select_for_update().filter(**terms).first()
        still = overdue(License.objects.filter(**terms), year=year, opened=opened).exists()
        if lic is None or not still:
            return False
        license_act(
            actor=None,
            identifier=lic.identifier,
            action=Action.suspend,
            reason=suspend_reason(year),
            event_data={"cause": CAUSE, "year": year},
        )
    return True


def _windows() -> list[tuple[LicenseType, Window]]:
    found = []
    types = LicenseType.objects.filter(annual_inspection=True).exclude(
        Q(inspection_window_start="") | Q(inspection_window_end="")
    )
    for license_type in types.order_by("pk"):
        try:
            window = parse_window(
                license_type.inspection_window_start, license_type.inspection_window_end
            )
        except DomainError:
            logger.warning("inspection window of %s is invalid", license_type.type_code)
            continue
        found.append((license_type, window))
    return found


def inspection_close_windows(*, today: date | None = None, limit: int = 1000) -> int:
    """Suspend the licences not inspected when their window closed; returns how many."""
    today = today or timezone.localdate()
    suspended = 0
    for license_type, window in _windows():
        year = window.last_closed_year(today)
        opened = _opening(window, year)
        ids = list(
            overdue(License.objects.filter(license_type=license_type), year=year, opened=opened)
            .order_by("pk")
            .values_list("pk", flat=True)[:limit]
        )
        for pk in ids:
            try:
                suspended += _suspend_one(pk, year=year, opened=opened)
            except (PermanentError, DomainError):
                continue  # changed meanwhile (revoked, cancelled…): nothing to suspend
    return suspended
