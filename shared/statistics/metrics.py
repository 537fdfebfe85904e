"""The metrics the counters hold, in the order reports and CSV columns show them.

A licence event counts under its action's own code (`issue`, `renew`, … from the status
machine, so an action added there is counted without a change here); the other sources use
the codes below.
"""

from shared.domain.status import ACTION_LABELS

ACCESS_METRICS: dict[str, str] = {
    "query": "查询",
    "verify": "验证",
    "compare": "比对",
    "access_refused": "用证被拒绝",
}
REVIEW_METRICS: dict[str, str] = {
    "review_received": "收到复核申请",
    "review_confirmed": "复核维持",
    "review_corrected": "复核更正",
    "review_rejected": "复核驳回",
    "review_on_time": "按时答复",
    "review_late": "逾期答复",
    "review_overdue": "逾期未答复",
}
INSPECTION_METRICS: dict[str, str] = {
    "inspection_submitted": "年检申请",
    "inspection_approved": "年检通过（审核）",
    "inspection_refused": "年检不通过",
    "inspection_late": "逾期年检通过",
}
ARRIVAL_METRICS: dict[str, str] = {
    "arrival": "汇聚到达",
    "arrival_late": "汇聚迟到",
}


def event_metrics() -> dict[str, str]:
    """One metric per licence action (签发, 延续, 变更, 暂扣 …)."""
    return {action.value: label for action, label in ACTION_LABELS.items()}


def all_metrics() -> dict[str, str]:
    """Every metric, code → Chinese label, in report order."""
    return {
        **event_metrics(),
        **ACCESS_METRICS,
        **REVIEW_METRICS,
        **INSPECTION_METRICS,
        **ARRIVAL_METRICS,
    }
