"""Notices travel down to the city that answers them, answers travel up (issue #12 item 3).

Down: every change of a notice about a city's agency (or the city's node) writes one outbox row
`compliance.notice` on the stream named after that city, in the transaction of the change, when
the city is a registered peer. The payload is the notice's whole state with its steps and a
`revision`; the city keeps the highest (`municipal_node.notices`).

Up: a city sends `compliance.answer` with the answer of one of its agencies. The hub trusts
nothing about who sent it: the sender must be the library that answers the notice (the city of
its agency, judged from the agency row held here); otherwise `federation.not_owner` and nothing
changes. An answer out of order (the notice accepted meanwhile) is refused with
`notice.illegal_transition` and dead-lettered like any event that cannot be applied.
"""

from typing import TYPE_CHECKING, Any

from django.conf import settings

from shared.domain.notices import NOTICE_KIND, RULE_LABELS, SNAPSHOT_SCHEMA, STATE_LABELS
from shared.federation.models import Peer
from shared.federation.outbox import outbox_write
from shared.federation.ownership import NOT_OWNER, NotOwnerError, agency_library

if TYPE_CHECKING:
    from provincial_hub.compliance.models import RectificationNotice


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def notice_snapshot(notice: "RectificationNotice") -> dict[str, Any]:
    agency = notice.agency
    return {
        "id": str(notice.pk),
        "rule": notice.rule,
        "rule_label": RULE_LABELS.get(notice.rule, notice.rule),  # type: ignore[call-overload]
        "agency": (
            {"code": agency.code, "name": agency.name, "area_code": agency.area_code}
            if agency is not None
            else None
        ),
        "city_code": notice.city_code,
        "period": notice.period,
        "summary": notice.summary,
        "findings": notice.findings,
        "issued_at": _iso(notice.issued_at),
        "deadline": _iso(notice.deadline),
        "deadline_provisional": notice.deadline_provisional,
        "state": notice.state,
        "state_label": STATE_LABELS.get(notice.state, notice.state),  # type: ignore[call-overload]
        "answered_at": _iso(notice.answered_at),
        "closed_at": _iso(notice.closed_at),
        "escalated_at": _iso(notice.escalated_at),
        "revision": notice.revision,
        "steps": [
            {
                "seq": s.seq,
                "kind": s.kind,
                "actor_name": s.actor_name,
                "library_code": s.library_code,
                "text": s.text,
                "at": _iso(s.at),
            }
            for s in notice.steps.order_by("seq")
        ],
    }


def notice_stream(notice: "RectificationNotice") -> str | None:
    """The city a notice goes down to: its answering library, when that is a registered city."""
    city = notice.city_code
    if city == settings.LIBRARY_CODE:
        return None
    if not Peer.objects.filter(code=city, active=True).exists():
        return None
    return city


def notice_publish(notice: "RectificationNotice") -> None:
    """Inside the caller's transaction: the notice's state, down to its city."""
    stream = notice_stream(notice)
    if stream is None:
        return
    outbox_write(
        stream=stream,
        kind=NOTICE_KIND,
        key=str(notice.pk),
        payload={"schema": SNAPSHOT_SCHEMA, "notice": notice_snapshot(notice)},
    )


def answering_library(notice: "RectificationNotice") -> str:
    """Who answers a notice, judged from the rows held here (not from what a sender claims)."""
    agency = notice.agency
    if agency is not None:
        return agency_library(level=agency.level, area_code=agency.area_code)
    return notice.city_code


def apply_answer(payload: dict[str, Any], *, sender: str) -> "RectificationNotice":
    """`compliance.answer` from a city: the answer of the person it names."""
    from provincial_hub.compliance import services

    answer = payload["answer"]
    notice = services.notice_for_apply(notice_id=answer["notice_id"])
    owner = answering_library(notice)
    if owner != sender or notice.city_code != sender:
        raise NotOwnerError(
            NOT_OWNER,
            "发送方无权答复其他证照库单位的整改通知",
            {"sender": sender, "record": "notice", "key": str(notice.pk), "owner": owner},
        )
    who = services.Who(
        actor=None,
        name=f"{str(answer['actor_name'])[:150]}（{sender}）",
        library_code=sender,
    )
    return services.notice_answer(notice_id=notice.pk, text=str(answer["text"]), who=who)
