"""Reads for operators: delivery state and streams (the hub's view of every city is in
`provincial_hub.aggregation.selectors`)."""

from collections.abc import Mapping
from typing import Any

from django.db.models import Count, Max, Q

from shared.federation.models import OutboxEvent


def outbox_list(*, stream: str | None = None, state: str | None = None):
    rows = OutboxEvent.objects.all().order_by("stream", "-seq")
    if stream:
        rows = rows.filter(stream=stream)
    if state:
        rows = rows.filter(state=state)
    return rows


def outbox_summary() -> list[Mapping[str, Any]]:
    return list(
        OutboxEvent.objects.values("stream")
        .annotate(
            pending=Count("id", filter=Q(state=OutboxEvent.State.PENDING)),
            sent=Count("id", filter=Q(state=OutboxEvent.State.SENT)),
            acknowledged=Count("id", filter=Q(state=OutboxEvent.State.ACKNOWLEDGED)),
            failed=Count("id", filter=Q(state=OutboxEvent.State.FAILED)),
            dead=Count("id", filter=Q(state=OutboxEvent.State.DEAD)),
            last_seq=Max("seq"),
        )
        .order_by("stream")
    )
