"""Rotating the holder-code key: start a run, advance it a batch at a time, retire a version.

The order an operator follows (docs/pki.md, 持证主体代码密钥):
1. configure the new key first, ``HOLDER_CODE_KEYS="2:<new>,1:<old>"``, on every process
   (web, workers): from then on new values are written under version 2 and both versions read;
2. ``holder_keys rotate``: a Celery run re-encrypts every stored code to version 2 in batches;
   lookups match a code under either digest meanwhile (`holder_code_digests`);
3. ``holder_keys retire --version 1`` once no row is left under it: values under it are refused
   from then on; then remove it from the settings.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from shared.audit.services import audit_record
from shared.core.effects import enqueue_on_commit
from shared.core.errors import ConflictError, PermanentError
from shared.core.holder_codes import holder_keyring, holder_keyring_reset
from shared.crypto import holder_codes as cipher
from shared.crypto.suite_base import CryptoError
from shared.holder_keys.models import HolderKeyRetirement, HolderKeyRotation
from shared.holder_keys.selectors import (
    TARGETS,
    holder_key_rows_off,
    holder_key_rows_on,
    off_version,
)

DEFAULT_BATCH = 500
STALLED_AFTER = timedelta(minutes=2)


def _queue(run: HolderKeyRotation) -> None:
    from shared.holder_keys.tasks import rotate_batch

    enqueue_on_commit(rotate_batch, run.pk)


def holder_key_rotation_start(*, actor: Any = None) -> tuple[HolderKeyRotation, bool]:
    """Start re-encrypting every stored holder code to the current version; (run, created).

    Safe to run twice: while a run is going, the same run is answered (and queued again, in
    case its task was lost); the unique constraint settles two commands started at once."""
    ring = holder_keyring()
    running = HolderKeyRotation.objects.filter(state=HolderKeyRotation.State.RUNNING).first()
    if running is not None:
        with transaction.atomic():
            _queue(running)
        return running, False
    try:
        with transaction.atomic():
            run = HolderKeyRotation.objects.create(
                to_version=ring.current, total=holder_key_rows_off(version=ring.current)
            )
            audit_record(
                actor=actor,
                action="holder_key.rotation_start",
                target_type="holder_key_rotation",
                target_id=str(run.pk),
                before=None,
                after={"to_version": run.to_version, "total": run.total},
            )
            _queue(run)
    except IntegrityError:
        return HolderKeyRotation.objects.get(state=HolderKeyRotation.State.RUNNING), False
    return run, True


def holder_key_rotation_step(
    *, run_id: int, batch_size: int | None = None
) -> HolderKeyRotation | None:
    """Re-encrypt the next batch of a running run and queue the next step on commit; None
    when the run is over (so a late duplicate does nothing).

    The run row is locked, waiting: a duplicate step (the command run twice, beat resuming)
    does its batch after this one, and anyone else holding the row briefly (a retirement
    being refused) delays the chain instead of ending it."""
    configured: int = getattr(settings, "HOLDER_KEY_ROTATION_BATCH", DEFAULT_BATCH)
    size = batch_size if batch_size else configured
    with transaction.atomic():
        run = (
            HolderKeyRotation.objects.select_for_update()
            .filter(pk=run_id, state=HolderKeyRotation.State.RUNNING)
            .first()
        )
        if run is None:
            return None
        ring = holder_keyring()
        if ring.current != run.to_version:
            _finish(run, HolderKeyRotation.State.FAILED, f"当前密钥版本已改为 {ring.current}")
            return run
        budget = size
        for label, model in TARGETS.items():
            if budget <= 0:
                break
            budget -= _rewrite(run, ring, label, model, budget)
        if all(run.cursors.get(label, 0) is None for label in TARGETS):
            _end_of_pass(run)
        run.save()
        if run.state == HolderKeyRotation.State.RUNNING:
            _queue(run)
    return run


def _rewrite(
    run: HolderKeyRotation, ring: cipher.HolderKeyring, label: str, model: Any, budget: int
) -> int:
    """Re-encrypt up to `budget` rows of `model` past this pass's cursor; how many it read.
    Rows a request holds locked are skipped (the next pass takes them)."""
    cursor = run.cursors.get(label, 0)
    if cursor is None:
        return 0
    rows = list(
        model._default_manager.filter(off_version(run.to_version), pk__gt=cursor)
        .order_by("pk")
        .select_for_update(skip_locked=True, of=("self",))
        .only("pk", "holder_code_enc", "holder_code_digest")[:budget]
    )
    changed = []
    for row in rows:
        try:
            code = cipher.keyring_decrypt(ring, row.holder_code_enc)
        except CryptoError as exc:
            run.pass_failed += 1
            run.last_error = f"{label} #{row.pk}: {exc.message}"[:500]
            continue
        row.holder_code_enc = cipher.keyring_encrypt(ring, code)
        row.holder_code_digest = cipher.keyring_digest(ring, code)
        changed.append(row)
    _write(model, changed)
    run.rewritten += len(changed)
    run.pass_rewritten += len(changed)
    run.cursors[label] = rows[-1].pk if len(rows) == budget else None
    return len(rows)


def _write(model: Any, rows: list[Any]) -> None:
    """One prepared UPDATE sent for every row of the batch (psycopg pipelines `executemany`):
    an UPDATE per row through the ORM ran at ≈ 900 rows/s here, `bulk_update` at ≈ 1,250."""
    if not rows:
        return
    quote, meta = connection.ops.quote_name, model._meta
    enc, digest = meta.get_field("holder_code_enc"), meta.get_field("holder_code_digest")
    table, pk = quote(meta.db_table), quote(meta.pk.column)
    sets = f"{quote(enc.column)} = %s, {quote(digest.column)} = %s"
    sql = f"UPDATE {table} SET {sets} WHERE {pk} = %s"  # noqa: S608 - model names only
    params = [(row.holder_code_enc, row.holder_code_digest, row.pk) for row in rows]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def _end_of_pass(run: HolderKeyRotation) -> None:
    run.failed = run.pass_failed  # the rows this whole pass could not read
    remaining = holder_key_rows_off(version=run.to_version)
    if remaining == 0:
        _finish(run, HolderKeyRotation.State.DONE, "")
    elif remaining <= run.pass_failed and run.pass_rewritten == 0:
        # Nothing moved and what is left cannot be read: more passes would not change that.
        _finish(run, HolderKeyRotation.State.FAILED, f"{remaining} 条持证主体代码无法读取")
    else:  # rows skipped while locked, or written under the old version meanwhile
        run.passes += 1
        run.cursors, run.pass_rewritten, run.pass_failed = {}, 0, 0


def _finish(run: HolderKeyRotation, state: str, error: str) -> None:
    run.state = state
    run.finished_at = timezone.now()
    if error:
        run.last_error = error[:500]
    run.save()
    audit_record(
        actor=None,
        action=f"holder_key.rotation_{state}",
        target_type="holder_key_rotation",
        target_id=str(run.pk),
        before=None,
        after={"to_version": run.to_version, "rewritten": run.rewritten, "failed": run.failed},
    )


def holder_key_rotation_stalled() -> list[int]:
    """Running runs nobody advanced for a while: their task was lost (beat queues them)."""
    since = timezone.now() - STALLED_AFTER
    return list(
        HolderKeyRotation.objects.filter(
            state=HolderKeyRotation.State.RUNNING, updated_at__lt=since
        ).values_list("pk", flat=True)
    )


def holder_key_retire(*, version: int, reason: str = "", actor: Any = None) -> HolderKeyRetirement:
    """Retire `version`: from then on a value under it is refused. Refused (409, nothing
    changed) for the current version, while a rotation runs, or while rows remain under it.
    Retiring a retired version answers the existing row."""
    ring = holder_keyring()
    if version == ring.current:
        raise ConflictError(
            "holder_key.retire_current", f"密钥版本 {version} 是当前写入版本，不能停用"
        )
    if version not in ring.keys and version != cipher.LEGACY_VERSION:
        raise PermanentError(
            "holder_key.unknown_version", f"未配置密钥版本 {version}", {"version": version}
        )
    if len(reason) > 200:
        raise PermanentError("holder_key.reason_too_long", "停用原因不能超过 200 个字符")
    with transaction.atomic():
        existing = HolderKeyRetirement.objects.filter(version=version).first()
        if existing is not None:
            return existing
        # Lock the runs so a rotation cannot start between this check and the retirement.
        runs = HolderKeyRotation.objects.select_for_update().filter(
            state=HolderKeyRotation.State.RUNNING
        )
        if runs.exists():
            raise ConflictError(
                "holder_key.rotation_running", "密钥轮换正在进行，完成后才能停用旧版本"
            )
        remaining = {k: v for k, v in holder_key_rows_on(version=version).items() if v}
        if remaining:
            raise ConflictError(
                "holder_key.rows_remain",
                f"仍有 {sum(remaining.values())} 条持证主体代码使用密钥版本 {version}，"
                "请先完成轮换（holder_keys rotate）",
                {"version": version, "rows": remaining},
            )
        retirement = HolderKeyRetirement.objects.create(version=version, reason=reason)
        audit_record(
            actor=actor,
            action="holder_key.retire",
            target_type="holder_key_version",
            target_id=str(version),
            before=None,
            after={"version": version, "reason": reason},
        )
        # This process reads it at once; the others within RETIRED_CACHE_SECONDS.
        holder_keyring_reset()
        transaction.on_commit(holder_keyring_reset)
    return retirement
