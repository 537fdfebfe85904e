"""Writes of the working-day override table (DESIGN §4): the library administrator marks a
day a working day or a rest day, against what the statutory calendar says. Every change is
audited; the deadlines computed afterwards (reviews, inspections, arrivals) follow it."""

from datetime import date
from typing import Any

from django.db import transaction

from shared.accounts.models import User
from shared.audit.services import audit_record
from shared.audit.snapshots import model_snapshot
from shared.calendars.models import WorkdayOverride
from shared.core.errors import ForbiddenError, NotFoundError


def _require_library_admin(actor: User | None) -> None:
    if actor is not None and not actor.is_library_admin:
        raise ForbiddenError("permission.library_admin_required", "仅库管理员可以调整工作日日历")


def _snapshot(row: WorkdayOverride) -> dict[str, Any]:
    return model_snapshot(row, exclude=("id", "updated_at"))


@transaction.atomic
def override_set(
    *, actor: User | None, day: date, is_workday: bool, note: str = ""
) -> tuple[WorkdayOverride, bool]:
    """Set the override of `day` (created or replaced); returns it and whether it is new.
    `actor=None` is a system action (a command, seeding)."""
    _require_library_admin(actor)
    row = WorkdayOverride.objects.select_for_update().filter(day=day).first()
    before = _snapshot(row) if row is not None else None
    if row is None:
        row = WorkdayOverride(day=day)
    row.is_workday, row.note = is_workday, note
    row.save()
    audit_record(
        actor=actor,
        action="calendar.override.set",
        target_type="calendar.override",
        target_id=day.isoformat(),
        before=before,
        after=_snapshot(row),
    )
    return row, before is None


@transaction.atomic
def override_delete(*, actor: User | None, day: date) -> None:
    """Remove the override of `day`: the statutory calendar applies again (404 if none)."""
    _require_library_admin(actor)
    row = WorkdayOverride.objects.select_for_update().filter(day=day).first()
    if row is None:
        raise NotFoundError(
            "calendar.override_not_found", "该日期没有工作日调整", {"day": str(day)}
        )
    before = _snapshot(row)
    row.delete()
    audit_record(
        actor=actor,
        action="calendar.override.delete",
        target_type="calendar.override",
        target_id=day.isoformat(),
        before=before,
        after=None,
    )
