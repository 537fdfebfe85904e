"""Who is told what, when: expiry reminders and inspection reminders (daily beat), licence
status changes and review answers (signal receivers, in the change's transaction).

Only the library that holds a licence (`library_code == LIBRARY_CODE`) tells anyone about it: a
mirror at the hub changes because the city's change arrived, and the city has told already.
Recipients: the holder accounts whose holder code digest and type match the licence (as the
holder portal finds a holder's licences) and the issuing agency's active staff.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from shared.accounts.models import User
from shared.calendars.selectors import workday_calendar
from shared.catalog.models import LicenseType
from shared.domain.errors import DomainError
from shared.domain.status import ACTION_LABELS, UNRELEASED, Action, Status
from shared.domain.windows import Window, day_label, parse_window
from shared.domain.workdays import WorkdayCalendar
from shared.licenses import lookups
from shared.licenses.models import License, LicenseEvent
from shared.notifications.models import Reminder
from shared.notifications.services import notify
from shared.reviews.models import ReviewRequest

logger = logging.getLogger(__name__)

STATUS_ACTIONS = frozenset(
    {Action.suspend, Action.resume, Action.revoke, Action.annul, Action.cancel, Action.expire}
)


def _url(path: str) -> str:
    return settings.FILES_PUBLIC_BASE_URL.rstrip("/") + path


def license_holders(lic: License) -> list[User]:
    return list(
        User.objects.filter(
            role=User.Role.HOLDER,
            is_active=True,
            holder_code_digest=lic.holder_code_digest,
            holder_code_type=lic.holder_code_type,
        ).order_by("pk")
    )


def issuer_staff(lic: License) -> list[User]:
    return list(
        User.objects.filter(
            agency_id=lic.issuer_id,
            is_active=True,
            role__in=[User.Role.STAFF, User.Role.AGENCY_ADMIN],
        ).order_by("pk")
    )


def _tell(lic: License, *, event: str, key: str, subject: str, body: str) -> int:
    """Holders (linking to the portal) and the issuer's staff (to the console)."""
    queued = notify(
        event=event,
        dedupe_key=key,
        users=license_holders(lic),
        subject=subject,
        body=body,
        link=_url("/holder/"),
    )
    return queued + notify(
        event=event,
        dedupe_key=key,
        users=issuer_staff(lic),
        subject=subject,
        body=body,
        link=_url(f"/console/licences/{lic.identifier}/"),
    )


def _owned(lic: License) -> bool:
    return lic.library_code == settings.LIBRARY_CODE and lic.status not in UNRELEASED


def _name(lic: License) -> str:
    return f"{lic.license_type.name}（编号 {lic.number}，持证主体 {lic.holder_name}）"


# Expiry -----------------------------------------------------------------------------------


def reminder_day(valid_to: date, days: int, calendar: WorkdayCalendar) -> date:
    """The day the `days`-ahead reminder goes out: `days` before expiry, moved back to the
    last working day when that falls on a rest day, so the issuer's staff read it at work."""
    day = valid_to - timedelta(days=days)
    for _ in range(31):  # the longest run of rest days is far shorter
        if calendar.is_workday(day)[0]:
            return day
        day -= timedelta(days=1)
    return valid_to - timedelta(days=days)


def due_threshold(
    valid_to: date, today: date, thresholds: list[int], calendar: WorkdayCalendar
) -> int | None:
    """The smallest threshold whose reminder day has come: a licence first seen with 5 days
    left gets the 7-day reminder, not the 90- and 30-day ones as well."""
    for days in sorted(thresholds):
        if reminder_day(valid_to, days, calendar) <= today:
            return days
    return None


def _remind_expiry(pk: int, *, days: int, today: date) -> bool:
    with transaction.atomic():
        lic = (
            License.objects.select_for_update(of=("self",))  # the licence row only
            .select_related("license_type")
            .filter(**lookups.licence_terms(pk=pk), status=Status.valid)
            .first()
        )
        if lic is None or lic.valid_to is None or lic.valid_to < today or not _owned(lic):
            return False
        key = f"{lic.valid_to.isoformat()}:{days}"
        _, created = Reminder.objects.get_or_create(license=lic, kind="expiry", key=key)
        if not created:
            return False
        left = (lic.valid_to - today).days
        _tell(
            lic,
            event="licence.expiring",
            key=f"licence.expiring:{lic.pk}:{key}",
            subject=f"电子证照将于 {left} 天后到期",
            body=(
                f"{_name(lic)}有效期至 {lic.valid_to.isoformat()}，还有 {left} 天到期。"
                "如需继续使用，请及时向签发单位申请延续。"
            ),
        )
    return True


CHUNK = 1000  # candidate licences read, and their reminders looked up, at a time


def expiry_reminders(*, today: date | None = None, limit: int = 5000) -> int:
    """Queue the expiry reminders due today (NOTIFY_EXPIRY_DAYS, e.g. 90/30/7 days ahead);
    returns how many licences were reminded. Each licence is its own transaction; a licence
    already reminded for that expiry date and threshold (a rerun, a worker restarted mid-run)
    is skipped by its `Reminder` row."""
    today = today or timezone.localdate()
    thresholds = [int(d) for d in settings.NOTIFY_EXPIRY_DAYS]
    if not thresholds:
        return 0
    calendar = workday_calendar()
    horizon = today + timedelta(days=max(thresholds) + 31)
    candidates = (
        License.objects.filter(
            status=Status.valid,
            library_code=settings.LIBRARY_CODE,
            valid_to__gte=today,
            valid_to__lte=horizon,
        )
        .order_by("valid_to", "pk")
        .values_list("pk", "valid_to")
    )
    reminded = 0
    for chunk in _chunks(candidates.iterator(chunk_size=CHUNK), CHUNK):
        sent = _reminded(kind="expiry", license_ids=[pk for pk, _ in chunk])
        for pk, valid_to in chunk:
            days = due_threshold(valid_to, today, thresholds, calendar) if valid_to else None
            if days is None or valid_to is None or f"{valid_to.isoformat()}:{days}" in sent[pk]:
                continue
            try:
                reminded += _remind_expiry(pk, days=days, today=today)
            except IntegrityError:  # another run reminded it meanwhile
                continue
            if reminded >= limit:
                return reminded
    return reminded


def _chunks(rows: Iterator[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _reminded(*, kind: str, license_ids: list[int]) -> defaultdict[int, set[str]]:
    """The reminders already sent for these licences, by licence: read a chunk of candidates
    at a time (the horizon of a city holds a hundred thousand licences or more)."""
    sent: defaultdict[int, set[str]] = defaultdict(set)
    rows = Reminder.objects.filter(kind=kind, license_id__in=license_ids)
    for license_id, key in rows.values_list("license_id", "key"):
        sent[license_id].add(key)
    return sent


# Annual inspection -----------------------------------------------------------------------


def _windows() -> list[tuple[LicenseType, Window]]:
    found = []
    types = LicenseType.objects.filter(annual_inspection=True).exclude(
        Q(inspection_window_start="") | Q(inspection_window_end="")
    )
    for license_type in types.order_by("pk"):
        try:
            found.append(
                (
                    license_type,
                    parse_window(
                        license_type.inspection_window_start, license_type.inspection_window_end
                    ),
                )
            )
        except DomainError:
            continue
    return found


def _remind_inspection(pk: int, *, year: int, stage: str, closes: date) -> bool:
    with transaction.atomic():
        lic = (
            License.objects.select_related("license_type")
            .filter(**lookups.licence_terms(pk=pk))
            .first()
        )
        if lic is None or not _owned(lic):
            return False
        _, created = Reminder.objects.get_or_create(
            license=lic, kind="inspection", key=f"{year}:{stage}"
        )
        if not created:
            return False
        subject = (
            f"{year} 年度网络年检即将截止" if stage == "closing" else f"{year} 年度网络年检已开始"
        )
        _tell(
            lic,
            event="inspection.due",
            key=f"inspection.due:{lic.pk}:{year}:{stage}",
            subject=subject,
            body=(
                f"{_name(lic)}须完成 {year} 年度网络年检，截止日期 {day_label(closes)}。"
                "逾期未年检的证照将被暂扣。"
            ),
        )
    return True


def inspection_reminders(*, today: date | None = None, limit: int = 5000) -> int:
    """While a type's window is open: tell holders and issuers once when it opens (`open`) and
    once more when NOTIFY_INSPECTION_WORKDAYS working days or fewer are left (`closing`: the
    window's end is a statutory deadline, so it is counted in working days)."""
    from shared.inspections.suspension import overdue

    today = today or timezone.localdate()
    calendar = workday_calendar()
    reminded = 0
    for license_type, window in _windows():
        year = today.year
        opens, closes = window.opens(year), window.closes(year)
        if not opens <= today <= closes:
            continue
        left, _ = calendar.workdays_between(today, closes)
        stage = "closing" if left <= settings.NOTIFY_INSPECTION_WORKDAYS else "open"
        opened = timezone.make_aware(datetime.combine(opens, time.min))
        ids = (
            overdue(License.objects.filter(license_type=license_type), year=year, opened=opened)
            .exclude(
                pk__in=Reminder.objects.filter(kind="inspection", key=f"{year}:{stage}").values(
                    "license_id"
                )
            )
            .order_by("pk")
            .values_list("pk", flat=True)[:limit]
        )
        for pk in list(ids):
            try:
                reminded += _remind_inspection(pk, year=year, stage=stage, closes=closes)
            except IntegrityError:
                continue
    return reminded


# Receivers --------------------------------------------------------------------------------


def on_license_changed(
    sender: Any, *, license: License, event: LicenseEvent, **kwargs: Any
) -> None:  # noqa: A002 - the signal's argument name
    """A status change (suspended, resumed, revoked, annulled, cancelled, expired) is told to
    holders and issuer staff, in the change's transaction."""
    if event.action not in STATUS_ACTIONS or not _owned(license):
        return
    label = ACTION_LABELS[Action(event.action)]
    reason = f"原因：{event.reason}。" if event.reason else ""
    _tell(
        license,
        event="licence.status",
        key=f"licence.status:{license.pk}:{event.seq}",
        subject=f"电子证照状态变更：{label}",
        body=f"{_name(license)}已{label}（{event.created_at:%Y-%m-%d}）。{reason}",
    )


def _review_staff(review: ReviewRequest) -> list[User]:
    return list(
        User.objects.filter(
            agency_id=review.issuer_id,
            is_active=True,
            role__in=[User.Role.STAFF, User.Role.AGENCY_ADMIN],
        ).order_by("pk")
    )


def on_review_changed(sender: Any, *, review: ReviewRequest, **kwargs: Any) -> None:
    """A review request (art. 24: answered within 5 working days) is told as it moves: the
    issuer's staff when it arrives, at each reminder the beat gives (2 and 1 working days
    left) and when it becomes overdue; whoever asked (a holder, an agency's user) when it is
    answered. Only where the request lives (its library)."""
    if review.library_code != settings.LIBRARY_CODE:
        return
    if review.state != ReviewRequest.State.OPEN:
        _review_answered(review)
        return
    deadline = f"{review.deadline:%Y-%m-%d}"
    if review.overdue:
        event, key = "review.overdue", f"review.overdue:{review.pk}"
        subject = "复核申请已逾期未答复"
        body = f"对证照 {review.identifier} 的复核申请答复期限 {deadline} 已过，请尽快答复。"
    elif review.reminders_sent:
        left = 1 if review.reminders_sent >= 2 else 2
        event, key = "review.due", f"review.due:{review.pk}:{review.reminders_sent}"
        subject = f"复核申请答复期限还剩 {left} 个工作日"
        body = (
            f"对证照 {review.identifier} 的复核申请须于 {deadline} 前答复（还剩 {left} 个工作日）。"
        )
    else:
        event, key = "review.received", f"review.received:{review.pk}"
        subject = "收到复核申请"
        body = f"收到对证照 {review.identifier} 的复核申请，须于 {deadline} 前答复（5 个工作日）。"
    notify(
        event=event,
        dedupe_key=key,
        users=_review_staff(review),
        subject=subject,
        body=body,
        link=_url(f"/console/reviews/{review.pk}/"),
    )


def _review_answered(review: ReviewRequest) -> None:
    if review.answered_at is None or review.requester_id is None:
        return
    requester = User.objects.filter(pk=review.requester_id).first()
    if requester is None:
        return
    late = "（逾期答复）" if review.answered_late else ""
    link = "/holder/reviews/" if requester.is_holder else "/console/"
    notify(
        event="review.answered",
        dedupe_key=f"review.answered:{review.pk}",
        users=[requester],
        subject=f"复核申请已答复：{review.get_state_display()}",
        body=(
            f"您对证照 {review.identifier} 的复核申请已于 {review.answered_at:%Y-%m-%d} 答复"
            f"{late}：{review.get_state_display()}。{review.answer_reason}"
        ),
        link=_url(link),
    )
