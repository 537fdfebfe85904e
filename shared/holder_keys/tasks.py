"""Thin Celery tasks: take ids, call one service, safe to run twice."""

from celery import shared_task
from django.db import OperationalError

from shared.core.effects import enqueue
from shared.holder_keys.services import holder_key_rotation_stalled, holder_key_rotation_step


@shared_task(
    name="holder_keys.rotate_batch",
    acks_late=True,
    # A deadlock or a dropped connection rolls the batch back: try it again (beat would, later).
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def rotate_batch(run_id: int) -> dict[str, int | str]:
    # One batch per task; the service queues the next one when this one commits.
    run = holder_key_rotation_step(run_id=run_id)
    if run is None:  # it is over
        return {"state": "over"}
    return {"state": run.state, "rewritten": run.rewritten, "failed": run.failed}


@shared_task(name="holder_keys.resume")
def resume() -> int:
    """Beat: queue again a running rotation nobody advanced lately (a lost task, a crash)."""
    ids = holder_key_rotation_stalled()
    for run_id in ids:
        enqueue(rotate_batch, run_id)
    return len(ids)
