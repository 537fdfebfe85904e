"""Bulk issuing: a batch of rows issued by a Celery job, a chunk of rows at a time, with progress.

Each row's checks (the registry's answer among them) come first, outside any transaction; then
the chunk's licences and outcomes are written in one short transaction that claims its rows
with `select_for_update(skip_locked=True)`, so a retried or duplicated job never issues a row
twice and a crash loses nothing: the next run picks up the rows still pending. Each row's
licence is written in its own savepoint, so a row that fails fails alone. One transaction per
chunk rather than per row: the per-row claim, commit, outcome and counter writes cost more than
the licence itself (20 queries a row; a node could not commit 100 licences/s, issue #16).
"""

from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from shared.accounts.models import User
from shared.catalog.models import LicenseType
from shared.core.effects import enqueue_on_commit
from shared.core.errors import ApplicationError, PermanentError
from shared.domain.errors import DomainError
from shared.licenses.issuing import IssueOrder, license_issue_check, license_issue_write
from shared.licenses.models import Batch, BatchItem, Mode
from shared.licenses.records import require_issuer
from shared.licenses.validation import Holder

CHUNK = 25  # rows per transaction: the serial counter's row stays locked until it commits


@transaction.atomic
def batch_create(*, actor: User, mode: str, items: list[dict[str, Any]]) -> Batch:
    """Accept a bulk upload. Rows are already shape-checked by the API; the job applies the
    business rules row by row and records each row's outcome."""
    require_issuer(actor)
    if mode not in (Mode.BULK, Mode.OFFLINE, Mode.LEGACY):
        raise PermanentError("batch.mode", "批量任务的生成方式只能是 bulk、offline 或 legacy")
    if not items:
        raise PermanentError("batch.empty", "批量任务至少需要一条记录")
    if len(items) > settings.BATCH_MAX_ITEMS:
        raise PermanentError(
            "batch.too_large", f"单个批量任务最多 {settings.BATCH_MAX_ITEMS} 条记录"
        )
    batch = Batch.objects.create(issuer=actor.agency, created_by=actor, mode=mode, total=len(items))  # type: ignore[misc]  # an issuer (_require_issuer above)
    BatchItem.objects.bulk_create(
        [BatchItem(batch=batch, index=i, payload=item) for i, item in enumerate(items)]
    )
    from shared.licenses.tasks import process_batch

    enqueue_on_commit(process_batch, str(batch.pk))
    return batch


def _check_row(batch: Batch, payload: dict[str, Any], types: dict[str, LicenseType]) -> IssueOrder:
    holder = payload["holder"]
    valid_to = payload.get("valid_to")
    return license_issue_check(
        actor=batch.created_by,
        type_code=payload["type_code"],
        number=payload["number"],
        holder=Holder(name=holder["name"], code=holder["code"], code_type=holder["code_type"]),
        valid_from=date.fromisoformat(payload["valid_from"]),
        valid_to=date.fromisoformat(valid_to) if valid_to else None,
        mode=batch.mode,
        case_completed_at=datetime.fromisoformat(payload["case_completed_at"]),
        matter_code=payload.get("matter_code") or "",
        surface=payload.get("surface") or {},
        types=types,
    )


def _malformed(exc: Exception) -> tuple[str, str]:
    return "batch.row_malformed", f"记录格式错误：{exc}"[:500]


def _checked(
    batch: Batch, item: BatchItem, types: dict[str, LicenseType]
) -> IssueOrder | tuple[str, str]:
    """The row's order when its checks pass, else its error (code, message)."""
    try:
        return _check_row(batch, item.payload, types)
    except (ApplicationError, DomainError) as exc:
        return exc.code, exc.message[:500]
    except (KeyError, TypeError, ValueError) as exc:
        return _malformed(exc)


def _write(item: BatchItem, checked: IssueOrder | tuple[str, str]) -> None:
    """Write the row's licence (when its checks passed) in a savepoint, and set its outcome."""
    if isinstance(checked, tuple):
        item.state = BatchItem.State.FAILED
        item.error_code, item.error_message = checked
        return
    try:
        with transaction.atomic():
            item.license = license_issue_write(order=checked)
            item.state = BatchItem.State.ISSUED
    except (ApplicationError, DomainError) as exc:
        item.state = BatchItem.State.FAILED
        item.error_code, item.error_message = exc.code, exc.message[:500]
    except (KeyError, TypeError, ValueError) as exc:
        item.state = BatchItem.State.FAILED
        item.error_code, item.error_message = _malformed(exc)


def _process_chunk(batch: Batch, after: int) -> int | None:
    """Issue the next pending rows past index `after`; the last index seen, None when none is left.

    The rows' checks run first, outside any transaction: they ask the registry over the
    network. Then one short transaction claims the rows (`skip_locked`: a row another run holds
    or has done is passed over) and writes their licences and outcomes together."""
    items = list(
        BatchItem.objects.filter(
            batch=batch, state=BatchItem.State.PENDING, index__gt=after
        ).order_by("index")[:CHUNK]
    )
    if not items:
        return None
    types: dict[str, LicenseType] = {}  # read once a chunk: a type may be withdrawn meanwhile
    checked = {item.pk: _checked(batch, item, types) for item in items}
    with transaction.atomic():
        claimed = list(
            BatchItem.objects.select_for_update(skip_locked=True)
            .filter(pk__in=checked, state=BatchItem.State.PENDING)
            .order_by("index")
        )
        for item in claimed:
            _write(item, checked[item.pk])
        BatchItem.objects.bulk_update(claimed, ["state", "license", "error_code", "error_message"])
        ok = sum(item.state == BatchItem.State.ISSUED for item in claimed)
        Batch.objects.filter(pk=batch.pk).update(
            processed=F("processed") + len(claimed),
            succeeded=F("succeeded") + ok,
            failed=F("failed") + (len(claimed) - ok),
        )
    return items[-1].index


def batch_process(*, batch_id: str) -> Batch:
    """Run (or resume) a batch until no row is pending. Safe to run twice at once."""
    batch = Batch.objects.select_related("created_by", "created_by__agency").get(pk=batch_id)
    if batch.state in (Batch.State.DONE, Batch.State.FAILED):
        return batch
    Batch.objects.filter(pk=batch.pk, started_at__isnull=True).update(started_at=timezone.now())
    Batch.objects.filter(pk=batch.pk).update(state=Batch.State.RUNNING)
    index: int | None = -1
    while index is not None:
        index = _process_chunk(batch, index)
    if not BatchItem.objects.filter(batch=batch, state=BatchItem.State.PENDING).exists():
        Batch.objects.filter(pk=batch.pk).exclude(state=Batch.State.DONE).update(
            state=Batch.State.DONE, finished_at=timezone.now()
        )
    batch.refresh_from_db()
    return batch


def batch_resume_stale(*, older_than_seconds: int | None = None) -> list[str]:
    """Batches whose job never ran or died (broker down at commit, worker killed): their ids,
    to be queued again by the beat sweep."""
    if older_than_seconds is None:
        older_than_seconds = settings.BATCH_STALE_SECONDS
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    return [
        str(pk)
        for pk in Batch.objects.filter(
            state__in=(Batch.State.QUEUED, Batch.State.RUNNING), created_at__lt=cutoff
        ).values_list("pk", flat=True)
    ]
