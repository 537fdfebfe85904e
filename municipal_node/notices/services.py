"""The city's side of rectification notices: apply the hub's state, send an answer up.

Applying `compliance.notice` trusts nothing about who sent it: only the hub
(`FEDERATION_HUB_CODE`) issues notices, and only about this city (its `city_code`) and this
city's agencies (judged from the agency row held here, `shared.federation.ownership`); anything
else is `federation.not_owner` and changes nothing. A state older than the one held (a lower
`revision`) is ignored, so a late or repeated event never undoes a newer one.
"""

import uuid
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from municipal_node.notices.models import Notice, NoticeAnswer
from shared.accounts.models import Agency, User
from shared.core.errors import ConflictError, ForbiddenError, NotFoundError, PermanentError
from shared.domain.errors import DomainError
from shared.domain.notices import ANSWER_KIND, SNAPSHOT_SCHEMA, StepKind, notice_next
from shared.domain.text import check_text, is_blank
from shared.federation.outbox import outbox_write
from shared.federation.ownership import NOT_OWNER, NotOwnerError, agency_library

MAX_TEXT = 2000


def _not_owner(*, sender: str, key: str, owner: str) -> NotOwnerError:
    return NotOwnerError(
        NOT_OWNER,
        "只有省级库可以下发本市单位的整改通知",
        {"sender": sender, "record": "notice", "key": key, "owner": owner},
    )


def _subject(snap: dict[str, Any], *, sender: str) -> Agency | None:
    here = settings.LIBRARY_CODE
    key = str(snap.get("id", ""))[:64]
    if sender != settings.FEDERATION_HUB_CODE:
        raise _not_owner(sender=sender, key=key, owner=settings.FEDERATION_HUB_CODE)
    if snap["city_code"] != here:
        raise _not_owner(sender=sender, key=key, owner=str(snap["city_code"])[:6])
    if not snap.get("agency"):
        return None
    agency = Agency.objects.filter(code=snap["agency"]["code"]).first()
    if agency is None:
        raise PermanentError(
            "notices.agency_unknown", "本市没有该整改单位", {"agency_code": snap["agency"]["code"]}
        )
    owner = agency_library(level=agency.level, area_code=agency.area_code)
    if owner != here:
        raise _not_owner(sender=sender, key=key, owner=owner)
    return agency


def _when(value: Any) -> Any:
    return parse_datetime(value) if value else None


@transaction.atomic
def notice_apply(payload: dict[str, Any], *, sender: str) -> Notice:
    """`compliance.notice` from the hub: the notice's whole state (the highest revision wins)."""
    snap = payload["notice"]
    agency = _subject(snap, sender=sender)
    notice_id = uuid.UUID(str(snap["id"]))  # ValueError: dead-lettered as a payload error
    held = Notice.objects.select_for_update().filter(pk=notice_id).first()
    if held is not None and held.revision >= int(snap["revision"]):
        return held  # a duplicate or an older state
    deadline = parse_date(snap["deadline"])
    if deadline is None:
        raise PermanentError("notices.payload_invalid", "整改期限格式错误")
    fields = {
        "rule": str(snap["rule"])[:32],
        "rule_label": str(snap.get("rule_label", ""))[:100],
        "agency": agency,
        "city_code": snap["city_code"],
        "period": str(snap.get("period", ""))[:16],
        "summary": str(snap["summary"])[:500],
        "findings": snap.get("findings") or {},
        "issued_at": _when(snap["issued_at"]),
        "deadline": deadline,
        "deadline_provisional": bool(snap.get("deadline_provisional")),
        "state": str(snap["state"]),
        "answered_at": _when(snap.get("answered_at")),
        "closed_at": _when(snap.get("closed_at")),
        "escalated_at": _when(snap.get("escalated_at")),
        "revision": int(snap["revision"]),
        "steps": list(snap.get("steps") or []),
    }
    notice, _ = Notice.objects.update_or_create(pk=notice_id, defaults=fields)
    return notice


def _may_answer(actor: User, notice: Notice) -> None:
    """The notice's agency answers (its staff or administrator); a notice about the node itself
    is answered by the node's administrator."""
    if notice.agency is not None:
        allowed = actor.agency_id == notice.agency.pk
    else:
        allowed = actor.is_library_admin
    if not allowed or actor.is_supervisor:
        raise ForbiddenError("compliance.not_subject", "只有被通知单位的人员可以答复整改通知")


def _locked(notice_id: Any) -> Notice:
    notice = (
        Notice.objects.select_for_update(of=("self",))
        .select_related("agency")
        .filter(pk=notice_id)
        .first()
    )
    if notice is None:
        raise NotFoundError("compliance.notice_not_found", "整改通知不存在")
    return notice


@transaction.atomic
def notice_answer(*, actor: User, notice_id: Any, text: str) -> Notice:
    """Answer a notice: what the agency did. Recorded here and sent up to the hub, in one
    transaction; out of order (already answered, or closed) → 409 and nothing changes."""
    notice = _locked(notice_id)
    _may_answer(actor, notice)
    answer = (text or "").strip()
    if is_blank(answer) or len(answer) > MAX_TEXT:
        raise PermanentError(
            "compliance.text_required", f"请填写整改情况（不超过 {MAX_TEXT} 字）", {"field": "text"}
        )
    check_text(answer, field="text", label="整改情况", multiline=True)
    try:
        notice.state = notice_next(state=notice.state, step=StepKind.answer).value
    except DomainError as exc:
        raise ConflictError(exc.code, exc.message, exc.detail) from exc
    now = timezone.now()
    name = f"{actor.display_name or actor.username}（{actor.username}）"
    notice.answered_at = now
    notice.steps = [
        *notice.steps,
        {
            "seq": len(notice.steps) + 1,
            "kind": StepKind.answer.value,
            "actor_name": name,
            "library_code": settings.LIBRARY_CODE,
            "text": answer,
            "at": now.isoformat(),
            "pending": True,  # until the hub's next state replaces the steps
        },
    ]
    notice.save()
    NoticeAnswer.objects.create(
        notice=notice, actor=actor, text=answer, based_on_revision=notice.revision, at=now
    )
    outbox_write(
        stream=settings.FEDERATION_HUB_CODE,
        kind=ANSWER_KIND,
        key=str(notice.pk),
        payload={
            "schema": SNAPSHOT_SCHEMA,
            "answer": {
                "notice_id": str(notice.pk),
                "text": answer,
                "actor_name": name,
                "at": now.isoformat(),
                "based_on_revision": notice.revision,
            },
        },
    )
    return notice
