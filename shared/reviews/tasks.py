"""Thin Celery tasks for review requests: one service, safe to run twice."""

from celery import shared_task

from shared.reviews.deadlines import review_sweep


@shared_task(name="reviews.sweep")
def sweep() -> dict[str, int]:
    """Reminders at 2 and 1 working days left, overdue flags (beat, hourly)."""
    result = review_sweep()
    return {"reminded": result.reminded, "flagged": result.flagged}
