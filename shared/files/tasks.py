"""Thin Celery tasks on the `signing` queue (CELERY_TASK_ROUTES: files.* → signing)."""

from celery import shared_task

from shared.core.effects import enqueue
from shared.files import drain, services, signing


@shared_task(name="files.render", acks_late=True, bind=True, max_retries=5)
def render_license_file(self, file_id: int, owned: bool = False) -> str:
    """Render and seal one file row; safe to run twice (a ready row is left alone, and a row
    another run holds). `owned`: a drain handed the row, and its claim, to this task."""
    try:
        row = signing.license_file_render(file_id=file_id, owned=owned)
    except Exception as exc:
        from shared.files.models import LicenseFile

        state = LicenseFile.objects.filter(pk=file_id).values_list("state", flat=True).first()
        if state == LicenseFile.State.PENDING:
            # This run claimed the row before it failed: its retry takes the claim again.
            countdown = min(2**self.request.retries, 60)
            raise self.retry(args=[file_id, True], exc=exc, countdown=countdown) from exc
        return "failed"
    return row.state


@shared_task(name="files.retry_pending")
def retry_pending() -> int:
    ids = services.license_file_sweep()
    for file_id in ids:
        render_license_file.apply_async(args=[file_id])
    return len(ids)


@shared_task(name="files.drain", acks_late=True)
def drain_license_files() -> int:
    """Render the pending files a batch at a time (shared.files.drain); past its time budget it
    gives the queue back and comes again."""
    result = drain.license_files_drain()
    if result.more:
        enqueue(drain_license_files)
    return result.ready
