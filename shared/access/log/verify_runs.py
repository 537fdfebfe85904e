"""Verifying the whole log as a worker's job: asked for by a library administrator (or beat),
one at a time, with its progress and report kept (`VerifyRun`). `log_verify` reads every
record: minutes for a log of millions, far longer than a web request may take."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from shared.access.log.verify import log_verify
from shared.access.models import ChainHead, VerifyRun
from shared.core import locks
from shared.core.effects import enqueue_on_commit

# A run that reported no progress for this long died with its worker: a new one may start.
STALE = timedelta(minutes=10)


def verify_request(*, requested_by: str) -> tuple[VerifyRun, bool]:
    """The run under way (queued, or running and alive), or a new one queued for a worker;
    and whether it is new."""
    with transaction.atomic():
        locks.transaction_lock("access.verify")  # one asker at a time
        alive = VerifyRun.objects.filter(
            state__in=(VerifyRun.State.QUEUED, VerifyRun.State.RUNNING),
            updated_at__gte=timezone.now() - STALE,
        ).first()
        if alive is not None:
            return alive, False
        head = ChainHead.objects.filter(pk=1).values_list("seq", flat=True).first()
        run = VerifyRun.objects.create(requested_by=requested_by, total=head or 0)
        from shared.access import tasks  # the task module imports this one

        enqueue_on_commit(tasks.verify, run.pk)
    return run, True


def verify_run(*, run_id: int) -> VerifyRun | None:
    """Run a queued verification to its end; None when it is not queued (a redelivery)."""
    claimed = VerifyRun.objects.filter(pk=run_id, state=VerifyRun.State.QUEUED).update(
        state=VerifyRun.State.RUNNING
    )
    if not claimed:
        return None

    def progress(checked: int) -> None:
        VerifyRun.objects.filter(pk=run_id).update(checked=checked, updated_at=timezone.now())

    try:
        report = log_verify(progress)
    except Exception as exc:
        VerifyRun.objects.filter(pk=run_id).update(
            state=VerifyRun.State.FAILED,
            last_error=f"{type(exc).__name__}: {exc}"[:500],
            finished_at=timezone.now(),
        )
        raise
    VerifyRun.objects.filter(pk=run_id).update(
        state=VerifyRun.State.DONE,
        checked=report.checked,
        ok=report.ok,
        tree_size=report.tree_size,
        problems=report.problems,
        finished_at=timezone.now(),
    )
    return VerifyRun.objects.get(pk=run_id)
