"""Writes for rectification notices: one service per step, each in one transaction with its
`NoticeStep` row, its audit row (a person's step) and its outbox row down to the city
(`provincial_hub.compliance.federation`), so the three never disagree (STYLE habits 1, 3).

Who may take which step:
- issue: the daily evaluation (no actor) or a supervisor (by hand);
- answer: the staff of the notice's agency where the notice is answered at the hub (a provincial
  agency), or a city's node on behalf of its staff (`compliance.answer`, no actor here);
- accept, reopen: a supervisor, with a reason;
- escalate: the clock (beat), once the deadline day has ended without an answer.
A step out of order is refused with 409 `notice.illegal_transition` and changes nothing.
"""

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from provincial_hub.compliance import federation
from provincial_hub.compliance.models import NoticeStep, RectificationNotice
from shared.accounts.models import Agency, User
from shared.audit.services import audit_record
from shared.calendars.selectors import workday_calendar
from shared.conf.divisions import CITIES
from shared.core.errors import ConflictError, ForbiddenError, NotFoundError, PermanentError
from shared.domain.errors import DomainError
from shared.domain.notices import RULE_LABELS, NoticeState, StepKind, notice_next
from shared.domain.text import check_text, check_text_tree, is_blank
from shared.federation.ownership import agency_library

SYSTEM = "省级库每日合规考核（系统）"
MAX_TEXT = 2000


@dataclass(frozen=True, slots=True, kw_only=True)
class Who:
    """Who takes a step: a person of this library (`actor`), or someone the sending city names."""

    actor: User | None
    name: str
    library_code: str

    @classmethod
    def person(cls, user: User) -> "Who":
        label = user.display_name or user.username
        return cls(actor=user, name=f"{label}（{user.username}）", library_code=_here())

    @classmethod
    def system(cls) -> "Who":
        return cls(actor=None, name=SYSTEM, library_code=_here())


def _here() -> str:
    return str(settings.LIBRARY_CODE)


def require_supervisor(actor: User) -> None:
    if not actor.is_supervisor:
        raise ForbiddenError(
            "compliance.supervisor_required", "仅省级监管人员可下发、验收或退回整改通知"
        )


def _text(value: str, *, field: str, label: str, multiline: bool = True) -> str:
    """Text as stored and shown (the summary on the public page too): stripped, bounded,
    nothing invisible (`shared.domain.text`)."""
    text = (value or "").strip()
    if is_blank(text):
        raise PermanentError("compliance.text_required", f"请填写{label}", {"field": field})
    if len(text) > MAX_TEXT:
        raise PermanentError(
            "compliance.text_too_long", f"{label}不能超过 {MAX_TEXT} 个字符", {"field": field}
        )
    return check_text(text, field=field, label=label, multiline=multiline)


def _snapshot(notice: RectificationNotice) -> dict[str, Any]:
    """What the audit row keeps of a notice before and after a step."""
    return {
        "state": notice.state,
        "revision": notice.revision,
        "deadline": notice.deadline.isoformat(),
        "escalated_at": notice.escalated_at.isoformat() if notice.escalated_at else None,
    }


def _audit(
    who: Who,
    *,
    action: str,
    notice: RectificationNotice,
    before: dict[str, Any] | None,
    detail: dict[str, Any] | None = None,
) -> None:
    """A person's step is an administrative change (art. 28): one audit row, in this
    transaction. The clock's and a city's steps are recorded by their NoticeStep alone."""
    if who.actor is None:
        return
    audit_record(
        actor=who.actor,
        action=action,
        target_type="compliance.notice",
        target_id=str(notice.pk),
        before=before,
        after=_snapshot(notice),
        detail=detail,
    )


def _step(
    notice: RectificationNotice,
    kind: StepKind,
    who: Who,
    text: str,
    at: datetime | None = None,
) -> NoticeStep:
    """Record a step of a locked notice (its revision bumped by the caller) and send the
    notice down to its city."""
    step = NoticeStep.objects.create(
        notice=notice,
        seq=notice.steps.count() + 1,
        kind=kind.value,
        actor=who.actor,
        actor_name=who.name[:200],
        library_code=who.library_code,
        text=text,
        at=at or timezone.now(),
    )
    federation.notice_publish(notice)
    return step


def _locked(notice_id: Any) -> RectificationNotice:
    notice = (
        RectificationNotice.objects.select_for_update(of=("self",))
        .select_related("agency")
        .filter(pk=notice_id)
        .first()
    )
    if notice is None:
        raise NotFoundError("compliance.notice_not_found", "整改通知不存在")
    return notice


def notice_for_apply(*, notice_id: Any) -> RectificationNotice:
    """The notice an event from a city names (its id as sent, checked)."""
    try:
        pk = uuid.UUID(str(notice_id))
    except ValueError:
        raise PermanentError(
            "compliance.notice_id_invalid",
            "整改通知编号格式错误",
            {"notice_id": str(notice_id)[:64]},
        ) from None
    notice = RectificationNotice.objects.select_related("agency").filter(pk=pk).first()
    if notice is None:
        raise NotFoundError("compliance.notice_not_found", "整改通知不存在")
    return notice


def _advance(notice: RectificationNotice, kind: StepKind) -> None:
    """Move `notice` by `kind` (in memory; the caller saves): 409 when out of order."""
    try:
        notice.state = notice_next(state=notice.state, step=kind).value
    except DomainError as exc:
        raise ConflictError(exc.code, exc.message, exc.detail) from exc
    notice.revision += 1


def _subject(agency: Agency | None, city_code: str) -> tuple[Agency | None, str]:
    """(agency, the library that answers): a notice is about an agency or a city's node."""
    if agency is not None:
        library = agency_library(level=agency.level, area_code=agency.area_code)
        if city_code and city_code != library:
            raise PermanentError(
                "compliance.city_mismatch",
                "整改单位不属于所填的市",
                {"agency_code": agency.code, "city_code": city_code, "agency_city": library},
            )
        return agency, library
    if city_code not in CITIES:
        raise PermanentError(
            "compliance.subject_required",
            "请指明整改单位或市级节点（行政区划代码）",
            {"city_code": city_code},
        )
    return None, city_code


def notice_deadline(*, issued: date) -> tuple[date, bool]:
    """COMPLIANCE_NOTICE_DEADLINE_DAYS working days after the day of issue (the statutory
    calendar with this library's overrides)."""
    result = workday_calendar().add_workdays(issued, settings.COMPLIANCE_NOTICE_DEADLINE_DAYS)
    return result.day, result.provisional


@transaction.atomic
def notice_issue(
    *,
    actor: User | None,
    rule: str,
    agency: Agency | None,
    city_code: str = "",
    summary: str,
    findings: dict[str, Any] | None = None,
    period: str = "",
    issued_at: datetime | None = None,
) -> RectificationNotice:
    """Issue a notice: `actor=None` is the daily evaluation (`automatic`, one per breach: the
    caller checks and the unique constraint holds), a supervisor issues one by hand.
    `issued_at` (default now) back-dates a notice recorded late, as the demo's is."""
    if actor is not None:
        require_supervisor(actor)
    if rule not in RULE_LABELS:
        raise PermanentError("compliance.rule_unknown", "未知的考核规则", {"rule": rule})
    agency, library = _subject(agency, city_code)
    now = issued_at or timezone.now()
    deadline, provisional = notice_deadline(issued=timezone.localdate(now))
    notice = RectificationNotice.objects.create(
        rule=rule,
        agency=agency,
        city_code=library,
        subject_key=agency.code if agency is not None else library,
        period=period,
        automatic=actor is None,
        summary=_text(summary, field="summary", label="问题摘要", multiline=False)[:500],
        findings=check_text_tree(findings or {}, field="findings", label="考核发现"),
        issued_at=now,
        issued_by=actor,
        deadline=deadline,
        deadline_provisional=provisional,
        state=NoticeState.issued.value,
    )
    who = Who.person(actor) if actor is not None else Who.system()
    _step(notice, StepKind.issue, who, notice.summary, at=now)
    _audit(
        who,
        action="compliance.notice_issue",
        notice=notice,
        before=None,
        detail={"rule": rule, "subject": notice.subject_key, "summary": notice.summary},
    )
    return notice


def _may_answer_here(actor: User, notice: RectificationNotice) -> None:
    """At the hub only the staff of a provincial agency answer, and only their own notices
    (a city's agencies answer at their node)."""
    if (
        notice.city_code != _here()
        or notice.agency_id is None
        or actor.agency_id != notice.agency_id
        or actor.is_supervisor
    ):
        raise ForbiddenError("compliance.not_subject", "只有被通知单位的人员可以答复整改通知")


@transaction.atomic
def notice_answer(
    *, notice_id: Any, text: str, actor: User | None = None, who: Who | None = None
) -> RectificationNotice:
    """The agency's answer: what it did. `actor` answers at the hub; a city's answer arrives
    with `who` naming the person at the city (applied by `federation.apply_answer`)."""
    notice = _locked(notice_id)
    if actor is not None:
        _may_answer_here(actor, notice)
        who = Who.person(actor)
    if who is None:
        raise PermanentError("compliance.actor_required", "答复必须指明答复人")
    answer = _text(text, field="text", label="整改情况")
    before = _snapshot(notice)
    _advance(notice, StepKind.answer)
    notice.answered_at = timezone.now()
    notice.save()
    _step(notice, StepKind.answer, who, answer)
    _audit(
        who,
        action="compliance.notice_answer",
        notice=notice,
        before=before,
        detail={"text": answer},
    )
    return notice


@transaction.atomic
def notice_decide(
    *, actor: User, notice_id: Any, kind: StepKind, reason: str
) -> RectificationNotice:
    """The supervisor accepts an answer (the notice is closed) or reopens the notice."""
    require_supervisor(actor)
    if kind not in (StepKind.accept, StepKind.reopen):
        raise PermanentError("compliance.step_unknown", "不支持的整改通知操作", {"step": kind})
    notice = _locked(notice_id)
    text = _text(reason, field="reason", label="验收意见或退回理由")
    before = _snapshot(notice)
    _advance(notice, kind)
    if kind == StepKind.accept:
        notice.closed_at = timezone.now()
    notice.save()
    who = Who.person(actor)
    _step(notice, kind, who, text)
    _audit(
        who,
        action=f"compliance.notice_{kind.value}",
        notice=notice,
        before=before,
        detail={"reason": text},
    )
    return notice


def notice_escalate_due(*, today: date | None = None, limit: int = 1000) -> int:
    """Escalate to public criticism every notice whose deadline day has ended without an
    answer; each in its own transaction, so one failure does not hold back the rest."""
    today = today or timezone.localdate()
    due = list(
        RectificationNotice.objects.filter(
            state__in=[NoticeState.issued, NoticeState.reopened], deadline__lt=today
        )
        .order_by("deadline")
        .values_list("pk", flat=True)[:limit]
    )
    escalated = 0
    for pk in due:
        with transaction.atomic():
            notice = _locked(pk)
            if notice.state not in (NoticeState.issued, NoticeState.reopened):
                continue  # answered meanwhile
            _advance(notice, StepKind.escalate)
            now: datetime = timezone.now()
            notice.escalated_at = notice.escalated_at or now
            notice.save()
            text = f"整改期限 {notice.deadline.isoformat()} 已过，未答复整改情况，予以通报批评"
            _step(notice, StepKind.escalate, Who.system(), text)
            escalated += 1
    return escalated


def agency_for_notice(*, code: str) -> Agency:
    agency = Agency.objects.filter(code=(code or "").strip().upper()).first()
    if agency is None:
        raise NotFoundError("agency.not_found", "单位不存在", {"agency_code": code})
    return agency
