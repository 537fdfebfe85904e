"""Reads for the operator: the outbox filtered, and how many rows are in each state."""

from django.db.models import Count, QuerySet

from shared.notifications.models import Notification


def notification_list(*, state: str = "", event: str = "") -> QuerySet[Notification]:
    rows = Notification.objects.select_related("user").order_by("-created_at", "-id")
    if state:
        rows = rows.filter(state=state)
    if event:
        rows = rows.filter(event=event)
    return rows


def notification_counts() -> dict[str, int]:
    counts = {state: 0 for state in Notification.State.values}
    for row in Notification.objects.values("state").annotate(n=Count("id")):
        counts[row["state"]] = row["n"]
    return counts


def notification_events() -> list[str]:
    return sorted(Notification.objects.values_list("event", flat=True).distinct())
