"""Writes for the working-day override table (DESIGN §4): the library administrator sets a
date's working-day status by hand where the package's data is wrong or ends."""

from datetime import date

from django.db import transaction

from shared.accounts.models import User
from shared.calendars.models import WorkdayOverride
from shared.core.errors import ForbiddenError, NotFoundError
from shared.domain.dates import check_date
from shared.domain.text import check_text


def _require_library_admin(actor: User) -> None:
    if not actor.is_library_admin:
        raise ForbiddenError("permission.library_admin_required", "仅库管理员可调整工作日")


@transaction.atomic
def workday_override_set(
    *, actor: User, day: date, is_workday: bool, note: str = ""
) -> WorkdayOverride:
    """Make `day` a working day or a day off, whatever the package says (one row per date)."""
    _require_library_admin(actor)
    check_date(day, field="day", label="日期")
    note = check_text(note.strip()[:200], field="note", label="说明")
    row, _ = WorkdayOverride.objects.update_or_create(
        day=day, defaults={"is_workday": is_workday, "note": note}
    )
    return row


@transaction.atomic
def workday_override_delete(*, actor: User, override_id: int) -> None:
    """Remove an override: the date follows the package again."""
    _require_library_admin(actor)
    deleted, _ = WorkdayOverride.objects.filter(pk=override_id).delete()
    if not deleted:
        raise NotFoundError("workday.not_found", "该工作日调整不存在")
