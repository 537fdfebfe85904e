"""Rectification notices for /metrics (shared.ops.deadlines): per library that must answer,
the notices awaiting the agency's answer that are due by the next working day or overdue."""

from provincial_hub.compliance.models import RectificationNotice
from shared.domain.notices import AWAITING_AGENCY
from shared.ops.deadlines import Counts, Window, count_due


def notice_deadlines(window: Window) -> Counts:
    awaiting = RectificationNotice.objects.filter(state__in=[s.value for s in AWAITING_AGENCY])
    return count_due(awaiting, owner="city_code", window=window)
