"""The city's copies of its rectification notices for /metrics (shared.ops.deadlines): those
awaiting an answer from here that are due by the next working day or overdue."""

from municipal_node.notices.models import Notice
from shared.domain.notices import AWAITING_AGENCY
from shared.ops.deadlines import Counts, Window, count_due


def notice_deadlines(window: Window) -> Counts:
    awaiting = Notice.objects.filter(state__in=[s.value for s in AWAITING_AGENCY])
    return count_due(awaiting, owner="city_code", window=window)
