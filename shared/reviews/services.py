"""Writes for review requests (复核申请, art. 24): file one, answer one.

Each is one transaction that bumps the request's `revision`, saves it and sends `review_changed`
(whose receiver writes the `review.update` outbox row for the hub in the same transaction). A
corrected answer amends the licence through `shared.licenses.services.license_act` in that same
transaction, so the licence's new version, its event and its own outbox row commit with the
answer or not at all. The beat's changes (reminders, overdue) are `shared.reviews.deadlines`.
"""

import hashlib
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from shared.accounts.models import User
from shared.calendars.selectors import workday_calendar
from shared.catalog.models import LicenseType
from shared.core.attachments import Attachment, check_attachments
from shared.core.errors import ConflictError, ForbiddenError, PermanentError
from shared.domain.canonical import sm3_hex
from shared.domain.status import Action
from shared.domain.text import check_text, is_blank
from shared.domain.workdays import WorkdayCalendar, WorkdayResult
from shared.licenses import lookups
from shared.licenses.models import License
from shared.licenses.services import license_act
from shared.reviews.models import ReviewAttachment, ReviewRequest
from shared.reviews.requesters import (
    AGENCY,
    Requester,
    access_allowed,
    licence_for_agency,
    licence_for_holder,
    requester_of,
)
from shared.reviews.signals import review_changed

State = ReviewRequest.State
REVIEW_WORKDAYS = 5  # art. 24: the issuer answers within 5 working days of receipt
REASON_MAX = 1000
# An answer's reason is also the amend event's (`LicenseEvent.reason`, 500 characters).
ANSWER_REASON_MAX = 500
FIELDS_MAX = 50
ANSWERS = (State.CONFIRMED, State.CORRECTED, State.REJECTED)
# The licence's own data a request may name besides its surface fields (GB/T 36903 metadata).
METADATA_FIELDS = {
    "number": "证照编号",
    "holder_name": "持证主体名称",
    "holder_code": "持证主体代码",
    "holder_code_type": "持证主体代码类型",
    "issue_date": "颁证日期",
    "valid_from": "有效期起始日期",
    "valid_to": "有效期截止日期",
    "area_code": "行政区划代码",
    "matter_code": "关联事项编码",
}


def review_deadline(
    *, received_at: datetime, calendar: WorkdayCalendar | None = None
) -> WorkdayResult:
    """The answer is due by the end of the fifth working day after the day received (local
    time); make-up working days count, the operator's overrides apply."""
    day = timezone.localdate(received_at)
    return (calendar or workday_calendar()).add_workdays(day, REVIEW_WORKDAYS)


def is_late(*, deadline: date, at: datetime) -> bool:
    """Whether `at` is after the deadline day ended (Asia/Shanghai)."""
    return timezone.localdate(at) > deadline


def field_names(license_type: LicenseType) -> list[str]:
    """What a request may name: the licence's metadata and the type's surface fields."""
    surface = (license_type.surface_schema or {}).get("properties") or {}
    return [*METADATA_FIELDS, *(name for name in surface if isinstance(name, str))]


def check_fields(license_type: LicenseType, fields: Sequence[Any]) -> list[str]:
    """The named fields, each once and in order; 400 `review.field_unknown` for a name the
    licence's type does not have."""
    allowed = field_names(license_type)
    if len(fields) > FIELDS_MAX:
        raise PermanentError(
            "review.too_many_fields", f"最多列出 {FIELDS_MAX} 个字段", {"field": "fields"}
        )
    unknown = [f for f in fields if not isinstance(f, str) or f not in allowed]
    if unknown:
        raise PermanentError(
            "review.field_unknown",
            "该证照类型没有这些字段：" + "、".join(str(f)[:40] for f in unknown[:5]),
            {"field": "fields", "unknown": [str(f)[:64] for f in unknown[:20]], "allowed": allowed},
        )
    return list(dict.fromkeys(fields))


def check_reason(text: str, *, field: str, label: str, required: bool, limit: int) -> str:
    """Multi-line text as stored: stripped, at most `limit` characters, nothing invisible."""
    text = (text or "").strip()
    if required and is_blank(text):
        raise PermanentError(f"{field}.required", f"必须填写{label}", {"field": field})
    if len(text) > limit:
        raise PermanentError(f"{field}.too_long", f"{label}不能超过 {limit} 个字", {"field": field})
    return check_text(text, field=field, label=label, multiline=True)


def _refuse_duplicate(lic: License, requester: Requester) -> None:
    """One open request per requester and licence (the licence row is locked by the caller,
    so two concurrent requests see each other; a unique constraint backs this)."""
    open_ones = ReviewRequest.objects.filter(license=lic, state=State.OPEN)
    if requester.kind == AGENCY:
        open_ones = open_ones.filter(
            requester_kind=AGENCY, requester_agency_code=requester.agency_code
        )
    else:
        open_ones = open_ones.filter(requester_kind=requester.kind, requester=requester.user)
    held = open_ones.values_list("pk", flat=True).first()
    if held is not None:
        raise ConflictError(
            "review.duplicate",
            "已有一份待答复的复核申请，请等待签发单位答复",
            {"review": str(held)},
        )


def _attachment_rows(review: ReviewRequest, files: list[Attachment]) -> list[ReviewAttachment]:
    return [
        ReviewAttachment(
            review=review,
            name=f.name[:200],
            content_type=f.content_type,
            size=len(f.content),
            sm3=sm3_hex(f.content),
            sha256=hashlib.sha256(f.content).hexdigest(),
            content=f.content,
        )
        for f in files
    ]


def _licence_for(
    requester: Requester, *, identifier: str, matter_code: str, use_cause: str
) -> License:
    if requester.kind == AGENCY:
        return licence_for_agency(
            requester=requester, identifier=identifier, matter_code=matter_code, use_cause=use_cause
        )
    return licence_for_holder(requester=requester, identifier=identifier)


@transaction.atomic
def review_create(
    *,
    actor: User,
    identifier: str,
    reason: str,
    fields: Sequence[Any] = (),
    matter_code: str = "",
    use_cause: str = "",
    attachments: Sequence[tuple[str, bytes]] = (),
    now: datetime | None = None,
) -> ReviewRequest:
    """File a review request about the licence version `identifier`.

    A holder names only their own licences; an application agency names the matter and
    purpose and needs a grant for the licence's type and that matter (refusals recorded in the
    access log, as is the accepted request). 404 for no such released licence; 409
    `review.duplicate` while the same requester has one open on the licence. `now` is the
    receipt time (the demo seeds older requests); it defaults to now."""
    requester = requester_of(actor)
    lic = _licence_for(
        requester, identifier=identifier, matter_code=matter_code, use_cause=use_cause
    )
    reason = check_reason(reason, field="reason", label="申请理由", required=True, limit=REASON_MAX)
    names = check_fields(lic.license_type, list(fields))
    files = check_attachments(list(attachments))
    License.objects.select_for_update().filter(**lookups.licence_terms_of(lic)).first()
    _refuse_duplicate(lic, requester)
    received_at = now or timezone.now()
    due = review_deadline(received_at=received_at)
    agency = requester.kind == AGENCY
    review = ReviewRequest.objects.create(
        library_code=lic.library_code,
        license=lic,
        identifier=identifier,
        issuer=lic.issuer,
        license_type=lic.license_type,
        requester_kind=requester.kind,
        requester=actor,
        requester_agency_code=requester.agency_code,
        matter_code=matter_code.strip() if agency else "",
        use_cause=use_cause.strip() if agency else "",
        fields=names,
        reason=reason,
        received_at=received_at,
        deadline=due.day,
        deadline_provisional=due.provisional,
    )
    ReviewAttachment.objects.bulk_create(_attachment_rows(review, files))
    review_changed.send(sender=ReviewRequest, review=review)
    access_allowed(
        requester=requester,
        license=lic,
        matter_code=matter_code,
        use_cause=use_cause,
        review_id=str(review.pk),
    )
    return review


def require_answerer(actor: User, review: ReviewRequest) -> None:
    """Staff of the licence's issuing agency answer; whoever else sees the request only reads."""
    agency = actor.agency
    if (
        actor.is_holder
        or agency is None
        or agency.pk != review.issuer_id
        or not agency.is_issuer
        or not agency.active
    ):
        raise ForbiddenError("review.not_issuer", "只有该证照的签发单位人员可以答复复核申请")


def check_open(review: ReviewRequest) -> None:
    """409 unless the request is this library's own and still open."""
    if review.library_code != settings.LIBRARY_CODE:
        raise ConflictError(
            "review.not_local",
            "该复核申请由证照所属的证照库办理，本库只保存其副本",
            {"library_code": review.library_code},
        )
    if review.state != State.OPEN:
        raise ConflictError(
            "review.closed",
            f"复核申请已答复（{review.get_state_display()}），不能再次处理",
            {"state": review.state},
        )


def _corrected(review: ReviewRequest, *, actor: User, reason: str, amend: dict[str, Any]) -> str:
    """Amend the licence through its normal lifecycle (new version, event, outbox row)."""
    lic, _ = license_act(
        actor=actor,
        identifier=review.license.identifier,
        action=Action.amend,
        reason=reason,
        **amend,
    )
    return lic.identifier


@transaction.atomic
def review_answer(
    *,
    actor: User,
    review_id: Any,
    outcome: str,
    reason: str = "",
    surface: dict[str, Any] | None = None,
    holder_name: str | None = None,
    valid_to: date | None = None,
    valid_to_given: bool = False,
    now: datetime | None = None,
) -> ReviewRequest:
    """Answer an open request: `confirmed` (the data is right), `corrected` (the licence is
    amended with `surface` / `holder_name` / `valid_to`, and the request records the new
    identifier) or `rejected`; a reason is required for the last two. 409 `review.closed` for
    a request already answered, and nothing changes."""
    review = (
        ReviewRequest.objects.select_for_update(of=("self",))
        .select_related("license", "issuer")
        .get(pk=review_id)
    )
    require_answerer(actor, review)
    check_open(review)
    if outcome not in ANSWERS:
        raise PermanentError(
            "review.outcome_unknown",
            "答复结果必须是 confirmed（确认无误）、corrected（已更正）或 rejected（不予更正）",
            {"field": "outcome"},
        )
    required = outcome != State.CONFIRMED
    reason = check_reason(
        reason, field="reason", label="答复说明", required=required, limit=ANSWER_REASON_MAX
    )
    given: dict[str, Any] = {"surface": surface, "holder_name": holder_name}
    amend = {k: v for k, v in given.items() if v is not None}
    if valid_to_given:
        amend |= {"valid_to": valid_to, "valid_to_given": True}
    if outcome == State.CORRECTED:
        review.corrected_identifier = _corrected(review, actor=actor, reason=reason, amend=amend)
    elif amend:
        raise PermanentError(
            "review.amend_not_allowed",
            "只有“已更正”的答复可以同时变更证照信息",
            {"field": sorted(amend)[0], "outcome": outcome},
        )
    at = now or timezone.now()
    review.state = outcome
    review.answered_at, review.answered_by, review.answer_reason = at, actor, reason
    review.answered_late = is_late(deadline=review.deadline, at=at)
    review_save(review)
    return review


def review_save(review: ReviewRequest) -> None:
    """Save a change of `review` as a new revision and tell the receivers (the outbox)."""
    review.revision += 1
    review.save()
    review_changed.send(sender=ReviewRequest, review=review)
