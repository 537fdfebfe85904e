"""The licence status machine, checked cell by cell against a table written out by hand.

The expected tables below are NOT derived from ``TRANSITIONS``: they restate DESIGN §4 (plus the
review states and the pledge rules) so that a change to the machine has to change both.

Cell notation:
- ``-``            refused: ``license.illegal_transition``
- ``P``            refused: ``license.pledge_state``
- ``<status>``     allowed, leads to that status, pledged flag unchanged
- ``<status>+v``   ... and issues a new version
- ``<status>/p``   ... and sets pledged; ``/u`` clears it
"""

from __future__ import annotations

import pytest

from shared.domain.errors import DomainError
from shared.domain.status import (
    ACTION_LABELS,
    STATUS_LABELS,
    TRANSITIONS,
    Action,
    Outcome,
    Status,
    Transition,
    allowed_actions,
    apply_action,
)

COLUMNS = "pending returned valid suspended revoked annulled cancelled expired".split()

NOT_PLEDGED = """
issue      -        -        -          -          -        -        -          -
approve    valid    -        -          -          -        -        -          -
return     returned -        -          -          -        -        -          -
renew      -        -        valid+v    -          -        -        -          valid+v
amend      -        -        valid+v    -          -        -        -          -
suspend    -        -        suspended  -          -        -        -          -
resume     -        -        -          valid      -        -        -          -
revoke     -        -        revoked    revoked    -        -        -          -
annul      -        -        annulled   annulled   -        -        -          -
cancel     -        -        cancelled  cancelled  -        -        -          cancelled
pledge     -        -        valid/p    -          -        -        -          -
release    -        -        P          -          -        -        -          -
expire     -        -        expired    -          -        -        -          -
inspect    -        -        valid      suspended  -        -        -          -
"""

PLEDGED = """
issue      -        -        -          -          -        -        -          -
approve    valid    -        -          -          -        -        -          -
return     returned -        -          -          -        -        -          -
renew      -        -        valid+v    -          -        -        -          valid+v
amend      -        -        valid+v    -          -        -        -          -
suspend    -        -        suspended  -          -        -        -          -
resume     -        -        -          valid      -        -        -          -
revoke     -        -        revoked    revoked    -        -        -          -
annul      -        -        annulled   annulled   -        -        -          -
cancel     -        -        P          P          -        -        -          P
pledge     -        -        P          -          -        -        -          -
release    -        -        valid/u    -          -        -        -          -
expire     -        -        expired    -          -        -        -          -
inspect    -        -        valid      suspended  -        -        -          -
"""


def _parse(table: str) -> dict[tuple[str, str], str]:
    cells: dict[tuple[str, str], str] = {}
    for line in table.strip().splitlines():
        action, *row = line.split()
        assert len(row) == len(COLUMNS), line
        for status, cell in zip(COLUMNS, row, strict=True):
            cells[(action, status)] = cell
    return cells


EXPECTED = {False: _parse(NOT_PLEDGED), True: _parse(PLEDGED)}


def test_the_expected_tables_cover_every_action_and_status() -> None:
    for pledged in (False, True):
        actions = {action for action, _ in EXPECTED[pledged]}
        statuses = {status for _, status in EXPECTED[pledged]}
        assert actions == {action.value for action in Action}
        assert statuses == {status.value for status in Status}


CASES = [
    pytest.param(action, status, pledged, id=f"{action.value}-{status.value}-{pledged}")
    for action in Action
    for status in Status
    for pledged in (False, True)
]


@pytest.mark.parametrize(("action", "status", "pledged"), CASES)
def test_every_action_in_every_state(action: Action, status: Status, pledged: bool) -> None:
    cell = EXPECTED[pledged][(action.value, status.value)]

    if cell == "-":
        with pytest.raises(DomainError) as excinfo:
            apply_action(status=status, pledged=pledged, action=action)
        assert excinfo.value.code == "license.illegal_transition"
        assert excinfo.value.message == (
            f"当前状态为“{STATUS_LABELS[status]}”，不能执行“{ACTION_LABELS[action]}”"
        )
        assert excinfo.value.detail == {"status": status.value, "action": action.value}
        assert action not in allowed_actions(status=status, pledged=pledged)
    elif cell == "P":
        with pytest.raises(DomainError) as excinfo:
            apply_action(status=status, pledged=pledged, action=action)
        assert excinfo.value.code == "license.pledge_state"
        assert excinfo.value.message.startswith("证照已质押" if pledged else "证照未质押")
        assert excinfo.value.detail == {
            "status": status.value,
            "action": action.value,
            "pledged": pledged,
        }
        assert action not in allowed_actions(status=status, pledged=pledged)
    else:
        target, _, pledge_mark = cell.partition("/")
        target, _, version_mark = target.partition("+")
        expected_pledged = {"p": True, "u": False, "": pledged}[pledge_mark]
        outcome = apply_action(status=status, pledged=pledged, action=action)
        assert outcome == Outcome(
            status=Status(target), pledged=expected_pledged, new_version=version_mark == "v"
        )
        assert action in allowed_actions(status=status, pledged=pledged)


@pytest.mark.parametrize("pledged", [False, True])
@pytest.mark.parametrize("status", list(Status))
def test_allowed_actions_lists_exactly_the_allowed_cells_in_order(
    status: Status, pledged: bool
) -> None:
    expected = [
        action
        for action in Action
        if EXPECTED[pledged][(action.value, status.value)] not in {"-", "P"}
    ]

    assert allowed_actions(status=status, pledged=pledged) == expected


def test_allowed_actions_for_a_valid_unpledged_licence() -> None:
    assert allowed_actions(status=Status.valid, pledged=False) == [
        Action.renew,
        Action.amend,
        Action.suspend,
        Action.revoke,
        Action.annul,
        Action.cancel,
        Action.pledge,
        Action.expire,
        Action.inspect,
    ]


def test_terminal_states_allow_nothing() -> None:
    for status in (Status.revoked, Status.annulled, Status.cancelled, Status.returned):
        for pledged in (False, True):
            assert allowed_actions(status=status, pledged=pledged) == []


def test_messages_name_the_state_and_action() -> None:
    with pytest.raises(DomainError) as excinfo:
        apply_action(status=Status.suspended, pledged=False, action=Action.amend)

    assert str(excinfo.value) == "当前状态为“暂扣”，不能执行“变更”"


def test_cancel_of_a_pledged_licence_asks_for_release_first() -> None:
    with pytest.raises(DomainError) as excinfo:
        apply_action(status=Status.valid, pledged=True, action=Action.cancel)

    assert excinfo.value.code == "license.pledge_state"
    assert excinfo.value.message == "证照已质押，不能执行“注销”，请先解除质押"


def test_release_of_an_unpledged_licence() -> None:
    with pytest.raises(DomainError) as excinfo:
        apply_action(status=Status.valid, pledged=False, action=Action.release)

    assert excinfo.value.message == "证照未质押，不能执行“解除质押”"


def test_issue_is_not_a_transition() -> None:
    assert Action.issue not in TRANSITIONS
    assert set(TRANSITIONS) == set(Action) - {Action.issue}
    for action, transition in TRANSITIONS.items():
        assert isinstance(transition, Transition)
        assert transition.action is action


def test_transitions_table_is_read_only() -> None:
    with pytest.raises(TypeError):
        TRANSITIONS[Action.issue] = TRANSITIONS[Action.approve]  # type: ignore[index]


def test_enum_values_and_labels() -> None:
    assert [status.value for status in Status] == COLUMNS
    assert STATUS_LABELS == {
        Status.pending: "待审核",
        Status.returned: "已退回",
        Status.valid: "有效",
        Status.suspended: "暂扣",
        Status.revoked: "吊销",
        Status.annulled: "撤销",
        Status.cancelled: "注销",
        Status.expired: "有效期届满",
    }
    assert Action.return_.value == "return"
    assert Action("return") is Action.return_
    assert ACTION_LABELS == {
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
