"""The licence status machine, written as data.

A licence has one *state* (``Status``) and, separately, a *pledged* flag (质押). Every change is
an ``Action``; ``TRANSITIONS`` says from which states an action may start, what state it leads
to, whether it issues a new version and how it reads or sets the pledged flag. ``apply_action``
is the only place the table is interpreted, so services, the API's "allowed actions" and the
tests all agree. ``issue`` is not in the table: it creates a licence rather than moving one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from shared.domain.errors import DomainError


class Status(StrEnum):
    """The state of a licence (not its reason, not its flags)."""

    pending = "pending"  # submitted, awaiting review before it takes effect
    returned = "returned"  # sent back by the reviewer
    valid = "valid"
    suspended = "suspended"
    revoked = "revoked"
    annulled = "annulled"
    cancelled = "cancelled"
    expired = "expired"


# Not yet released (art. 14): under review or sent back. Such a licence never leaves its agency:
# it is not shared, sent to the hub, compared by reconciliation, listed by the library
# administrator or given a file.
UNRELEASED: frozenset[Status] = frozenset({Status.pending, Status.returned})

STATUS_LABELS: dict[Status, str] = {
    Status.pending: "待审核",
    Status.returned: "已退回",
    Status.valid: "有效",
    Status.suspended: "暂扣",
    Status.revoked: "吊销",
    Status.annulled: "撤销",
    Status.cancelled: "注销",
    Status.expired: "有效期届满",
}


class Action(StrEnum):
    """Everything that can happen to a licence; each becomes a LicenseEvent."""

    issue = "issue"
    approve = "approve"
    return_ = "return"  # trailing underscore: ``return`` is a keyword
    renew = "renew"
    amend = "amend"
    suspend = "suspend"
    resume = "resume"
    revoke = "revoke"
    annul = "annul"
    cancel = "cancel"
    pledge = "pledge"
    release = "release"
    expire = "expire"
    # 网络年检 (art. 26): the issuer approved the year's inspection. The state does not change
    # (a licence suspended for a missed inspection resumes by a separate `resume` event).
    inspect = "inspect"


ACTION_LABELS: dict[Action, str] = {
    Action.issue: "签发",
    Action.approve: "审核通过",
    Action.return_: "退回",
    Action.renew: "延续",
    Action.amend: "变更",
    Action.suspend: "暂扣",
    Action.resume: "恢复",
    Action.revoke: "吊销",
    Action.annul: "撤销",
    Action.cancel: "注销",
    Action.pledge: "质押",
    Action.release: "解除质押",
    Action.expire: "到期",
    Action.inspect: "年检通过",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Transition:
    """One row of the status machine.

    - ``sources``: the states the action may start from;
    - ``target``: the resulting state, ``None`` if the state is unchanged;
    - ``new_version``: the action issues a new immutable version (the old one is superseded);
    - ``requires_pledged``: ``None`` = the flag does not matter, ``True`` = must be pledged,
      ``False`` = must not be pledged;
    - ``sets_pledged``: the new value of the flag, ``None`` = unchanged.
    """

    action: Action
    sources: frozenset[Status]
    target: Status | None
    new_version: bool = False
    requires_pledged: bool | None = None
    sets_pledged: bool | None = None


def _transition(
    action: Action,
    sources: set[Status],
    target: Status | None,
    *,
    new_version: bool = False,
    requires_pledged: bool | None = None,
    sets_pledged: bool | None = None,
) -> tuple[Action, Transition]:
    return action, Transition(
        action=action,
        sources=frozenset(sources),
        target=target,
        new_version=new_version,
        requires_pledged=requires_pledged,
        sets_pledged=sets_pledged,
    )


TRANSITIONS: Mapping[Action, Transition] = MappingProxyType(
    dict(
        [
            _transition(Action.approve, {Status.pending}, Status.valid),
            _transition(Action.return_, {Status.pending}, Status.returned),
            # Renewing an expired licence brings it back to life as a new version (DESIGN §4).
            _transition(
                Action.renew, {Status.valid, Status.expired}, Status.valid, new_version=True
            ),
            _transition(Action.amend, {Status.valid}, Status.valid, new_version=True),
            _transition(Action.suspend, {Status.valid}, Status.suspended),
            _transition(Action.resume, {Status.suspended}, Status.valid),
            _transition(Action.revoke, {Status.valid, Status.suspended}, Status.revoked),
            _transition(Action.annul, {Status.valid, Status.suspended}, Status.annulled),
            # A pledged licence secures a debt: the pledge must be released before the licence
            # can be cancelled at the holder's request. Revocation and annulment are sanctions
            # and are not held up by a pledge.
            _transition(
                Action.cancel,
                {Status.valid, Status.suspended, Status.expired},
                Status.cancelled,
                requires_pledged=False,
            ),
            _transition(
                Action.pledge, {Status.valid}, None, requires_pledged=False, sets_pledged=True
            ),
            _transition(
                Action.release, {Status.valid}, None, requires_pledged=True, sets_pledged=False
            ),
            _transition(Action.expire, {Status.valid}, Status.expired),
            _transition(Action.inspect, {Status.valid, Status.suspended}, None),
        ]
    )
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """The result of applying an action: the new state and flag, and whether to version."""

    status: Status
    pledged: bool
    new_version: bool


def _illegal(status: Status, action: Action) -> DomainError:
    return DomainError(
        "license.illegal_transition",
        f"当前状态为“{STATUS_LABELS[status]}”，不能执行“{ACTION_LABELS[action]}”",
        {"status": status.value, "action": action.value},
    )


def apply_action(*, status: Status, pledged: bool, action: Action) -> Outcome:
    """Apply ``action`` to a licence in ``status`` with the given pledged flag.

    Raises ``DomainError``:
    - ``license.illegal_transition`` when the action cannot start from this state (always for
      ``issue``, which creates a licence instead);
    - ``license.pledge_state`` when the state allows the action but the pledged flag does not.
    ``detail`` holds ``status``, ``action`` (and ``pledged`` for the latter) as plain strings.
    """
    status = Status(status)
    action = Action(action)
    transition = TRANSITIONS.get(action)
    if transition is None or status not in transition.sources:
        raise _illegal(status, action)
    if transition.requires_pledged is not None and pledged != transition.requires_pledged:
        if pledged:
            message = f"证照已质押，不能执行“{ACTION_LABELS[action]}”，请先解除质押"
        else:
            message = f"证照未质押，不能执行“{ACTION_LABELS[action]}”"
        raise DomainError(
            "license.pledge_state",
            message,
            {"status": status.value, "action": action.value, "pledged": pledged},
        )
    return Outcome(
        status=transition.target if transition.target is not None else status,
        pledged=transition.sets_pledged if transition.sets_pledged is not None else pledged,
        new_version=transition.new_version,
    )


def allowed_actions(*, status: Status, pledged: bool) -> list[Action]:
    """The actions ``apply_action`` would accept now, in ``Action`` declaration order."""
    allowed = []
    for action in Action:
        try:
            apply_action(status=status, pledged=pledged, action=action)
        except DomainError:
            continue
        allowed.append(action)
    return allowed
