"""Thin Celery tasks: take ids, call one service, safe to run twice."""

from celery import shared_task

from shared.licenses.batches import batch_process, batch_resume_stale
from shared.licenses.services import license_expire_due


@shared_task(name="licenses.process_batch", acks_late=True)
def process_batch(batch_id: str) -> dict[str, int]:
    batch = batch_process(batch_id=batch_id)
    return {"processed": batch.processed, "succeeded": batch.succeeded, "failed": batch.failed}


@shared_task(name="licenses.resume_stale_batches")
def resume_stale_batches() -> int:
    ids = batch_resume_stale()
    for batch_id in ids:
        process_batch.delay(batch_id)
    return len(ids)


@shared_task(name="licenses.expire_due")
def expire_due() -> int:
    return license_expire_due()
