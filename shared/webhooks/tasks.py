"""Thin Celery tasks for webhooks: ids in, one service, safe to run twice."""

from celery import shared_task

from shared.webhooks.deliveries import webhook_deliver, webhook_sweep


@shared_task(name="webhooks.deliver")
def deliver(event_ids: list[str]) -> dict[str, int]:
    """Deliver these events if they are due (the kick after the licence change commits)."""
    states = [webhook_deliver(event_id=event_id) for event_id in event_ids]
    return {"attempted": sum(1 for s in states if s is not None)}


@shared_task(name="webhooks.sweep")
def sweep() -> dict[str, int]:
    """Deliver every event whose next attempt is due (beat: retries with back-off)."""
    return {"attempted": webhook_sweep()}
