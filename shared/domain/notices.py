"""Rectification notices (整改通知, art. 31, 33): their states and steps, written as data.

A notice is issued to an agency (or a city) that broke a rule of the measures; the agency answers
with what it did; the provincial supervisor accepts the answer (the notice is closed) or reopens
it (the agency must do more); a notice not answered by its deadline is escalated to public
criticism (通报批评). ``STEPS`` says from which states a step may be taken and where it leads;
``notice_next`` is the only place the table is read, so the hub's services, the city's copy and
the tests agree. ``issue`` is not in the table: it creates a notice.

Escalation is taken from ``issued`` and ``reopened`` only: an answered notice waits for the
supervisor's judgement and is not criticised for the supervisor's delay. Once escalated, a notice
can still be answered and accepted (the criticism stays on record: ``escalated_at``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from shared.domain.errors import DomainError


class NoticeState(StrEnum):
    issued = "issued"
    answered = "answered"
    reopened = "reopened"
    accepted = "accepted"
    escalated = "escalated"


STATE_LABELS: Mapping[NoticeState, str] = MappingProxyType(
    {
        NoticeState.issued: "已下发，待整改",
        NoticeState.answered: "已答复，待验收",
        NoticeState.reopened: "已退回，重新整改",
        NoticeState.accepted: "已验收，关闭",
        NoticeState.escalated: "逾期未整改，已通报批评",
    }
)

# Every state but `accepted`: the notice still asks something of somebody.
OPEN_STATES: frozenset[NoticeState] = frozenset(set(NoticeState) - {NoticeState.accepted})
# The states an agency is expected to act in (answer); the deadline runs against them.
AWAITING_AGENCY: frozenset[NoticeState] = frozenset(
    {NoticeState.issued, NoticeState.reopened, NoticeState.escalated}
)


class StepKind(StrEnum):
    issue = "issue"
    answer = "answer"
    accept = "accept"
    reopen = "reopen"
    escalate = "escalate"


STEP_LABELS: Mapping[StepKind, str] = MappingProxyType(
    {
        StepKind.issue: "下发整改通知",
        StepKind.answer: "答复整改情况",
        StepKind.accept: "验收通过",
        StepKind.reopen: "退回重新整改",
        StepKind.escalate: "逾期通报批评",
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    kind: StepKind
    sources: frozenset[NoticeState]
    target: NoticeState


STEPS: Mapping[StepKind, Step] = MappingProxyType(
    {
        step.kind: step
        for step in (
            Step(kind=StepKind.answer, sources=AWAITING_AGENCY, target=NoticeState.answered),
            Step(
                kind=StepKind.accept,
                sources=frozenset({NoticeState.answered}),
                target=NoticeState.accepted,
            ),
            Step(
                kind=StepKind.reopen,
                sources=frozenset({NoticeState.answered}),
                target=NoticeState.reopened,
            ),
            Step(
                kind=StepKind.escalate,
                sources=frozenset({NoticeState.issued, NoticeState.reopened}),
                target=NoticeState.escalated,
            ),
        )
    }
)


def notice_next(*, state: str, step: str) -> NoticeState:
    """The state a notice in ``state`` moves to by ``step``.

    Raises ``DomainError("notice.illegal_transition")`` (detail: ``state``, ``step``) when the
    step cannot be taken from that state (always for ``issue``, which creates a notice)."""
    current, kind = NoticeState(state), StepKind(step)
    rule = STEPS.get(kind)
    if rule is None or current not in rule.sources:
        raise DomainError(
            "notice.illegal_transition",
            f"整改通知当前状态为“{STATE_LABELS[current]}”，不能“{STEP_LABELS[kind]}”",
            {"state": current.value, "step": kind.value},
        )
    return rule.target


def allowed_steps(*, state: str) -> list[StepKind]:
    """The steps ``notice_next`` accepts from ``state``, in declaration order."""
    current = NoticeState(state)
    return [kind for kind, rule in STEPS.items() if current in rule.sources]


class Rule(StrEnum):
    """What a notice is about: the rules the hub evaluates daily, or a notice issued by hand."""

    catalog_unregistered = "catalog.unregistered"
    catalog_stale = "catalog.stale"
    aggregation_late = "aggregation.late"
    reviews_overdue = "reviews.overdue"
    inspections_backlog = "inspections.backlog"
    manual = "manual"


RULE_LABELS: Mapping[Rule, str] = MappingProxyType(
    {
        Rule.catalog_unregistered: "证照目录未在省级库登记发布即签发证照",
        Rule.catalog_stale: "证照目录长期未维护",
        Rule.aggregation_late: "证照数据汇聚不及时",
        Rule.reviews_overdue: "复核申请逾期未办理",
        Rule.inspections_backlog: "年检申请积压未审核",
        Rule.manual: "监管人员发现的其他问题",
    }
)


# The protocol between the hub and a city (issue #12): the hub sends a notice's whole state down
# on every change (`compliance.notice`, keyed by the notice's id, the highest `revision` wins);
# a city sends its agency's answer up (`compliance.answer`). Payloads carry `schema`.
NOTICE_KIND = "compliance.notice"
ANSWER_KIND = "compliance.answer"
SNAPSHOT_SCHEMA = 1
