"""The clock's part of a review request: reminders when 2 and 1 working days are left, and the
overdue flag, set once when a request is still open after its deadline day.

Both are changes like any other (new `revision`, `review_changed`, the outbox row), each in its
own transaction; `review_sweep` (beat, hourly) finds what is due and calls them. Only this
library's own requests are swept: the hub's mirrors of a city's requests change when the city
says so.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from shared.calendars.selectors import workday_calendar
from shared.core.errors import ConflictError
from shared.domain.workdays import WorkdayCalendar
from shared.reviews.models import ReviewReminder, ReviewRequest
from shared.reviews.services import check_open, is_late, review_save

State = ReviewRequest.State
# Two working days left is at most this many calendar days away (the longest holiday, Spring
# Festival, is nine days): open requests further out are not looked at.
REMINDER_HORIZON_DAYS = 31


def reminder_due(*, days_left: int) -> int:
    """Which reminder is due with `days_left` working days after today up to the deadline:
    1 at two days, 2 at one day or on the deadline day itself, 0 before."""
    if days_left <= 1:
        return 2
    if days_left <= 2:
        return 1
    return 0


def _locked(review_id: Any) -> ReviewRequest:
    return ReviewRequest.objects.select_for_update().get(pk=review_id)


@transaction.atomic
def review_remind(
    *, review_id: Any, now: datetime | None = None, calendar: WorkdayCalendar | None = None
) -> ReviewReminder:
    """Record the reminder due now (a `ReviewReminder` row the issuer's inbox shows). 409
    `review.reminder_not_due` when none is (too early, already given, or overdue), and
    `review.closed` once answered."""
    review = _locked(review_id)
    check_open(review)
    at = now or timezone.now()
    today = timezone.localdate(at)
    if review.overdue or today > review.deadline:
        raise ConflictError(
            "review.reminder_not_due",
            "复核申请已逾期，不再提醒",
            {"deadline": str(review.deadline)},
        )
    days_left, _ = (calendar or workday_calendar()).workdays_between(today, review.deadline)
    ordinal = reminder_due(days_left=days_left)
    if ordinal <= review.reminders_sent:
        raise ConflictError(
            "review.reminder_not_due",
            "尚未到提醒时间，或本次提醒已发出",
            {"reminders_sent": review.reminders_sent, "days_left": days_left},
        )
    reminder = ReviewReminder.objects.create(
        review=review, ordinal=ordinal, days_left=days_left, created_at=at
    )
    review.reminders_sent = ordinal
    review_save(review)
    return reminder


@transaction.atomic
def review_flag_overdue(*, review_id: Any, now: datetime | None = None) -> ReviewRequest:
    """Flag an open request whose deadline day has ended; counted against its issuer. 409
    `review.already_overdue` the second time, `review.not_overdue` before the deadline has
    passed, `review.closed` once answered."""
    review = _locked(review_id)
    check_open(review)
    if review.overdue:
        raise ConflictError("review.already_overdue", "复核申请已标记为逾期")
    if not is_late(deadline=review.deadline, at=now or timezone.now()):
        raise ConflictError(
            "review.not_overdue", "尚未超过答复期限", {"deadline": str(review.deadline)}
        )
    review.overdue = True
    review_save(review)
    return review


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepResult:
    reminded: int
    flagged: int


def review_sweep(*, now: datetime | None = None) -> SweepResult:
    """Flag what has become overdue and give the reminders that are due (safe to run twice:
    each change happens once)."""
    at = now or timezone.now()
    today = timezone.localdate(at)
    calendar = workday_calendar()
    mine = ReviewRequest.objects.filter(
        state=State.OPEN, library_code=settings.LIBRARY_CODE, overdue=False
    )
    flagged = 0
    for pk in mine.filter(deadline__lt=today).values_list("pk", flat=True):
        try:
            review_flag_overdue(review_id=pk, now=at)
        except ConflictError:
            continue  # answered or flagged meanwhile
        flagged += 1
    reminded = 0
    soon = mine.filter(
        deadline__gte=today,
        deadline__lte=today + timedelta(days=REMINDER_HORIZON_DAYS),
        reminders_sent__lt=2,
    )
    for pk, deadline, sent in soon.values_list("pk", "deadline", "reminders_sent"):
        days_left, _ = calendar.workdays_between(today, deadline)
        if reminder_due(days_left=days_left) <= sent:
            continue
        try:
            review_remind(review_id=pk, now=at, calendar=calendar)
        except ConflictError:
            continue  # answered meanwhile
        reminded += 1
    return SweepResult(reminded=reminded, flagged=flagged)
