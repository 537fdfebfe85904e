"""Thin Celery tasks for notifications: ids in, one service, safe to run twice."""

from celery import shared_task

from shared.notifications.services import notification_deliver, notification_sweep


@shared_task(name="notifications.deliver")
def deliver(notification_ids: list[str]) -> dict[str, int]:
    """Send the rows a `notify` call queued (on commit). A row another sender holds, or
    already sent, is skipped."""
    outcomes: dict[str, int] = {}
    for pk in notification_ids:
        outcome = notification_deliver(notification_id=pk)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


@shared_task(name="notifications.sweep")
def sweep() -> dict[str, int]:
    """Beat: due and retried rows, interrupted sends (see services)."""
    result = notification_sweep()
    return {"delivered": result.delivered, "interrupted": result.interrupted}


@shared_task(name="notifications.daily")
def daily() -> dict[str, int]:
    """Beat, daily: expiry reminders and inspection reminders (producers)."""
    from shared.notifications.producers import expiry_reminders, inspection_reminders

    return {"expiry": expiry_reminders(), "inspection": inspection_reminders()}
