"""The `signing` queue's drain: the files licence changes ask for, a batch at a time.

A licence change writes its file row and kicks a drain (coalesced per web process,
`FILES_DRAIN_COALESCE_MS`) instead of queueing one task per file. A drain claims up to
`FILES_DRAIN_BATCH` pending rows in one statement, reads their versions in one join, renders
and seals each, and marks the batch ready in one transaction — so the per-file costs around
render and sign (a Celery task and its acknowledgement, the claim, the version read, a commit)
are paid once a batch. It goes on until no row is left, or gives the queue back after
`FILES_DRAIN_SECONDS` and queues itself again.

Nothing is lost: a claim is committed before the work (a row that kills its process counts the
attempt, and fails for good after `FILES_MAX_ATTEMPTS`); a drain that dies leaves its rows
pending and claimed, and once the claim is older than `FILES_CLAIM_SECONDS` the next drain, or
the task the beat sweep queues for each (`license_file_sweep`), takes them. A row that
fails goes back to the per-file task (`files.render`) with its back-off; so does a batch whose
transaction fails, and a file sealed with a seal revoked meanwhile.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from shared.core.effects import enqueue
from shared.files import keystore, signing, storage
from shared.files.models import LicenseFile

logger = logging.getLogger(__name__)


@dataclass
class DrainResult:
    ready: int = 0
    handed_back: int = 0  # to the per-file task: failed once, revoked seal, failed batch
    failed: int = 0  # for good: an operator's
    taken: int = 0  # marked ready by another run of the same row meanwhile (its file kept)
    more: bool = False  # stopped at the time budget with rows maybe left


def license_files_drain(*, batch: int = 0, seconds: float = 0.0) -> DrainResult:
    batch = batch or settings.FILES_DRAIN_BATCH
    deadline = time.monotonic() + (seconds or settings.FILES_DRAIN_SECONDS)
    result = DrainResult()
    while rows := _claim(batch):
        _work(rows, result)
        if time.monotonic() >= deadline:
            result.more = True
            break
    return result


def _claim(limit: int) -> list[LicenseFile]:
    """Take up to `limit` pending rows no other process holds: count their attempt and stamp
    the claim in one committed statement. Two drains skip each other's rows (SKIP LOCKED, and
    the claim's time once committed)."""
    fields = LicenseFile._meta.concrete_fields
    quote = connection.ops.quote_name
    table, skip = quote(LicenseFile._meta.db_table), ""
    if connection.features.has_select_for_update_skip_locked:
        skip = " FOR UPDATE SKIP LOCKED"
    sql = (
        f"UPDATE {table} SET {quote('attempts')} = {quote('attempts')} + 1, "  # noqa: S608 - model names only
        f"{quote('claimed_at')} = %s, {quote('updated_at')} = %s "
        f"WHERE {quote('id')} IN (SELECT {quote('id')} FROM {table} "
        f"WHERE {quote('state')} = %s AND {quote('attempts')} < %s AND ({quote('claimed_at')} IS NULL "
        f"OR {quote('claimed_at')} < %s) ORDER BY {quote('id')} LIMIT %s{skip}) "
        f"RETURNING {', '.join(quote(cast(str, f.column)) for f in fields)}"
    )
    at = timezone.now()
    # As the ORM writes them (SQLite keeps naive UTC text, which the ORM compares as text).
    now = connection.ops.adapt_datetimefield_value(at)
    stale = connection.ops.adapt_datetimefield_value(
        at - timedelta(seconds=settings.FILES_CLAIM_SECONDS)
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql, [now, now, LicenseFile.State.PENDING, settings.FILES_MAX_ATTEMPTS, stale, limit]
        )
        found = cursor.fetchall()
    names = [f.attname for f in fields]
    return sorted(
        (LicenseFile.from_db(connection.alias, names, values) for values in found),
        key=lambda row: row.pk,
    )


def _work(rows: list[LicenseFile], result: DrainResult) -> None:
    versions = signing.versions_of(rows)
    done: list[tuple[LicenseFile, dict[str, Any]]] = []
    for row in rows:
        try:
            done.append((row, signing.sign_row(row, versions[row.identifier])))
        except Exception as exc:  # noqa: BLE001 - one file fails alone; its task retries it
            logger.warning("file %s failed in a drain", row.pk, exc_info=True)
            if signing.record_failure(row, exc):
                result.failed += 1
            else:
                _hand_back(row, result, countdown=min(2**row.attempts, 60))
    previous = {row.pk: row.path for row, _ready in done}  # before the update sets them
    try:
        with transaction.atomic():
            marked = [signing.ready_update(row, ready) for row, ready in done]
    except DatabaseError:
        logger.warning("a drain's batch of %d could not be marked ready", len(done), exc_info=True)
        for row, ready in done:
            storage.remove(ready["path"])  # no row names it
            _hand_back(row, result)
        return
    if signing.Marked.REVOKED in marked:  # a seal revoked meanwhile: the successor, read anew
        keystore.forget_current_keys()
    for (row, ready), outcome in zip(done, marked, strict=True):
        signing.settle_files(outcome, ready["path"], previous[row.pk])
        if outcome is signing.Marked.READY:
            result.ready += 1
        elif outcome is signing.Marked.TAKEN:
            result.taken += 1
        else:  # sealed with the revoked seal: signed again with the successor
            _hand_back(row, result)


def _hand_back(row: LicenseFile, result: DrainResult, countdown: float | None = None) -> None:
    from shared.files.tasks import render_license_file

    enqueue(render_license_file, row.pk, True, countdown=countdown)  # with the row's claim
    result.handed_back += 1
