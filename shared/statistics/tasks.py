"""Thin Celery task: the rollup, from beat every STATISTICS_ROLLUP_SECONDS; safe to run twice
(a second run queues on the watermark rows and then finds nothing new)."""

from celery import shared_task
from django.conf import settings

from shared.statistics.rollup import statistics_rollup


@shared_task(name="statistics.rollup")
def rollup() -> dict[str, int]:
    # Stop starting batches before the next beat tick: what is left waits a minute.
    return statistics_rollup(budget_seconds=max(5.0, settings.STATISTICS_ROLLUP_SECONDS * 0.8))
