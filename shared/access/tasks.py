"""Thin Celery tasks for the access log and bulk exports: ids in, one service, idempotent."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from shared.access import bulk, log
from shared.access.log import partitions, verify_runs


@shared_task(name="access.checkpoint")
def checkpoint() -> int:
    """Sequence pending records and sign a checkpoint if the tree grew (beat + every N)."""
    cp = log.checkpoint_create()
    return cp.tree_size if cp else 0


@shared_task(name="access.sequence")
def sequence() -> int:
    """Chain the records appended so far (what the chain's listeners act on: at the hub, the
    records about a city's licences go down to it); beat's checkpoint does it too."""
    return log.log_sequence()


@shared_task(name="access.purge_expired")
def purge_expired() -> int:
    """Archive and remove records older than the retention period (daily)."""
    before = timezone.now() - timedelta(days=max(settings.ACCESS_RETENTION_DAYS, 1096) + 1)
    return log.access_purge(before=before, requested_by="beat").count


@shared_task(name="access.partitions_ensure")
def partitions_ensure() -> int:
    """Create the access log's partitions for this month and the next three, and for any month
    with rows waiting in the DEFAULT partition (daily; idempotent; nothing on SQLite)."""
    return len(partitions.partitions_ensure(now=timezone.now()))


@shared_task(name="access.bulk_export", acks_late=True)
def bulk_export(bulk_request_id: str) -> str:
    request = bulk.bulk_export_run(bulk_request_id=bulk_request_id)
    return request.state if request else "missing"


@shared_task(name="access.bulk_sweep")
def bulk_sweep() -> int:
    ids = bulk.bulk_sweep()
    for bulk_request_id in ids:
        bulk_export.delay(bulk_request_id)
    return len(ids)


@shared_task(name="access.verify", acks_late=True)
def verify(run_id: int) -> str:
    """Verify the whole log for a `VerifyRun` (asked for through the API)."""
    run = verify_runs.verify_run(run_id=run_id)
    return run.state if run else "not queued"
