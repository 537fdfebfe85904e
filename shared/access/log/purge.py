"""Retention purge: archive (signed JSON lines) and remove records older than the retention
period, leaving a leaf stub per record so checkpoints and proofs still hold; and the check of
an archive file on its own. On PostgreSQL whole months go, by dropping their partitions."""

from __future__ import annotations

import json
import os
from collections import deque
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

from cryptography.hazmat.primitives import hashes
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.utils import timezone

from shared.access.keys import log_key_id, log_public_key_pem, log_signing_key
from shared.access.log import partitions
from shared.access.log.checkpoints import checkpoint_create, checkpoint_document
from shared.access.log.records import chain_hash, record_content
from shared.access.log.verify import ChainReport
from shared.access.models import AccessRecord, Checkpoint, LeafStub, PurgeRun
from shared.conf.env import var_dir
from shared.core.errors import PermanentError
from shared.crypto import merkle
from shared.crypto.suites import get_suite, public_key_from_pem
from shared.domain.canonical import canonical_json

# /2: a line may carry only the hashes of a place in the chain whose record is not in the
# archive (kept in a later month, or archived before): it carries the chain across that place.
ARCHIVE_FORMAT = "elicense-access-archive/2"


def _retention_days() -> int:
    return max(settings.ACCESS_RETENTION_DAYS, 1096)  # three years at least (art. 27)


def access_purge(*, before: datetime, requested_by: str = "system") -> PurgeRun:
    """Archive and remove the records older than `before` covered by a signed checkpoint: whole
    months on PostgreSQL (`_purge_months`), a prefix of the chain on SQLite. Refuses, and records the refusal, when `before` would reach records
    younger than `ACCESS_RETENTION_DAYS` (1,096 days, art. 27)."""
    _refuse_within_retention(before=before, requested_by=requested_by)
    cp = checkpoint_create()
    if partitions.is_partitioned():
        return _purge_months(before=before, requested_by=requested_by, cp=cp)
    run = PurgeRun.objects.create(before=before, requested_by=requested_by)
    covered = cp.tree_size if cp else 0
    younger = AccessRecord.objects.filter(seq__isnull=False, occurred_at__gte=before)
    first_young = younger.order_by("seq").values_list("seq", flat=True).first()
    last = min((first_young - 1) if first_young else covered, covered)
    records = list(AccessRecord.objects.filter(seq__isnull=False, seq__lte=last).order_by("seq"))
    if not records:
        run.state, run.finished_at = PurgeRun.State.DONE, timezone.now()
        run.save(update_fields=["state", "finished_at"])
        return run
    # seq__isnull=False above: every record has its place in the chain.
    first_seq, last_seq = cast(int, records[0].seq), cast(int, records[-1].seq)
    path = _archive_dir() / f"access-{settings.LIBRARY_CODE}-{first_seq}-{last_seq}.jsonl"
    digest, _ = _write_archive(path, _header(records[0], records[-1], cp), records)
    try:
        with transaction.atomic():
            LeafStub.objects.bulk_create(
                [
                    LeafStub(
                        seq=cast(int, r.seq),
                        leaf_hash=r.leaf_hash,
                        record_hash=r.record_hash,
                        purge_run=run,
                    )
                    for r in records
                ]
            )
            _delete_records(first_seq, last_seq)
            run.first_seq, run.last_seq, run.count = first_seq, last_seq, len(records)
            run.archive_path, run.archive_digest = str(path), digest
            run.state, run.finished_at = PurgeRun.State.DONE, timezone.now()
            run.save()
    except Exception as exc:
        _failed(run, exc)
        raise
    return run


def _purge_months(*, before: datetime, requested_by: str, cp: Checkpoint | None) -> PurgeRun:
    """PostgreSQL: archive whole months (partitions) that ended by `before` and are covered by
    the checkpoint, then detach and drop them: no row-by-row delete. A month not wholly past
    retention is kept whole, as is every month after it."""
    partitions.partitions_ensure(now=timezone.now())  # rows waiting in DEFAULT join their month
    covered = cp.tree_size if cp else 0
    months = [m.month for m in partitions.months_purgeable(before=before, covered=covered)]
    run = PurgeRun.objects.create(before=before, requested_by=requested_by)
    ends = partitions.months_ends(months)
    path: Path | None = None
    digest, count = "", 0
    if ends is not None:
        first, last = ends
        first_seq, last_seq = cast(int, first.seq), cast(int, last.seq)
        links = partitions.chain_links(months, first_seq, last_seq)
        path = _archive_dir() / f"access-{settings.LIBRARY_CODE}-{first_seq}-{last_seq}.jsonl"
        header = _header(first, last, cp)
        digest, count = _write_archive(path, header, partitions.month_records(months), links)
    try:
        with transaction.atomic():
            # Stubs first, then the drops: the ACCESS EXCLUSIVE lock of DETACH is held only
            # from the first drop to the commit.
            partitions.months_stub(months, run.pk)
            for month in months:
                partitions.month_drop(month, keep_days=_retention_days())
            if ends is not None:
                run.first_seq, run.last_seq = ends[0].seq, ends[1].seq
                run.archive_path, run.archive_digest = str(path), digest
            run.count = count
            run.state, run.finished_at = PurgeRun.State.DONE, timezone.now()
            run.save()
    except Exception as exc:
        _failed(run, exc)
        raise
    return run


def _failed(run: PurgeRun, exc: Exception) -> None:
    """Record why a run failed; its transaction rolled back, so nothing was removed."""
    PurgeRun.objects.filter(pk=run.pk).update(
        state=PurgeRun.State.FAILED, last_error=str(exc)[:500], finished_at=timezone.now()
    )


def _refuse_within_retention(*, before: datetime, requested_by: str) -> None:
    """Record a refused run and raise when `before` is younger than the retention period."""
    retention = _retention_days()
    limit = timezone.now() - timedelta(days=retention)
    if before <= limit:
        return
    run = PurgeRun.objects.create(
        before=before,
        state=PurgeRun.State.REFUSED,
        requested_by=requested_by,
        last_error=f"不得清理 {retention} 天内的记录",
        finished_at=timezone.now(),
    )
    raise PermanentError(
        "access.retention",
        f"用证记录至少保存 {retention} 天（三年），不能清理更新的记录",
        {"before": before.isoformat(), "earliest_allowed": limit.isoformat(), "run": run.pk},
    )


def _delete_records(first_seq: int, last_seq: int) -> None:
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.vendor == "postgresql":
        # The trigger of migration 0002 lets only this function delete, and it re-checks the
        # retention period in the database itself (docs/access-log.md).
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT access_log_purge(%s, %s, %s)", [first_seq, last_seq, _retention_days()]
            )
        return
    AccessRecord.objects.filter(seq__gte=first_seq, seq__lte=last_seq).delete()


# --- the archive file ------------------------------------------------------------------------


def _archive_dir() -> Path:
    path = Path(settings.ACCESS_ARCHIVE_DIR or var_dir() / "access-archive")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _record_line(record: AccessRecord) -> dict[str, Any]:
    content = json.loads(canonical_json(record_content(record)))
    return {
        "seq": record.seq,
        "content": content,
        "leaf_hash": record.leaf_hash,
        "prev_hash": record.prev_hash,
        "record_hash": record.record_hash,
    }


def _header(first: AccessRecord, last: AccessRecord, cp: Checkpoint | None) -> dict[str, Any]:
    return {
        "format": ARCHIVE_FORMAT,
        "library_code": settings.LIBRARY_CODE,
        "first_seq": first.seq,
        "last_seq": last.seq,
        "prev_hash": first.prev_hash,
        "last_record_hash": last.record_hash,
        "checkpoint": checkpoint_document(cp) if cp else None,
        "created_at": timezone.now().isoformat(),
    }


def _write_archive(
    path: Path,
    header: dict[str, Any],
    records: Iterable[AccessRecord],
    links: dict[int, tuple[str, str]] | None = None,
) -> tuple[str, int]:
    """Write the archive a line at a time (the records in chain order, each link in its
    place), hashing as it goes: nothing of it is held in memory. Returns (SM3, records)."""
    digest = hashes.Hash(hashes.SM3())
    pending = deque(sorted((links or {}).items()))
    count = 0
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as out:

        def write(line: dict[str, Any]) -> None:
            data = json.dumps(line, ensure_ascii=False, sort_keys=True).encode() + b"\n"
            digest.update(data)
            out.write(data)

        def links_before(seq: int | None) -> None:
            while pending and (seq is None or pending[0][0] < seq):
                place, (leaf, record) = pending.popleft()
                write({"seq": place, "leaf_hash": leaf, "record_hash": record})

        write(header)
        for record in records:
            links_before(cast(int, record.seq))
            write(_record_line(record))
            count += 1
        links_before(None)
        sm3 = digest.finalize().hex()
        seal = {
            "sm3": sm3,
            "key_id": log_key_id(),
            "public_key": log_public_key_pem(),
            "signature": get_suite("gm").sign(log_signing_key(), bytes.fromhex(sm3)).hex(),
        }
        out.write(json.dumps(seal).encode() + b"\n")
        out.flush()
        os.fsync(out.fileno())
    tmp.replace(path)
    return sm3, count


def archive_verify(path: Path) -> ChainReport:
    """Check an archive file on its own: seal signature, every leaf from its content, the chain
    from the header's prev_hash to its last_record_hash. Read a line at a time."""
    report = ChainReport()
    digest = hashes.Hash(hashes.SM3())
    state: dict[str, Any] = {}
    held: bytes | None = None
    with open(path, "rb") as lines:
        for raw in lines:
            if held is not None:  # not the last line (the seal): part of the body
                digest.update(held)
                _verify_line(json.loads(held), state, report)
            held = raw
    seal = json.loads(held or b"{}")
    if digest.finalize().hex() != seal.get("sm3"):
        report.flag("archive_digest")
    key = public_key_from_pem(seal["public_key"].encode())
    if not get_suite("gm").verify(
        key, bytes.fromhex(seal["signature"]), bytes.fromhex(seal["sm3"])
    ):
        report.flag("archive_signature")
    if state.get("prev") != state.get("last_record_hash"):
        report.flag("last_hash")
    report.tree_size = state.get("expected", 1) - 1
    return report


def _verify_line(line: dict[str, Any], state: dict[str, Any], report: ChainReport) -> None:
    if not state:  # the first line: the header
        state.update(
            prev=line["prev_hash"],
            expected=line["first_seq"],
            last_record_hash=line["last_record_hash"],
        )
        return
    prev, expected = state["prev"], state["expected"]
    if line["seq"] != expected:
        report.flag("missing", seq=expected)
    if "content" in line:
        leaf = merkle.leaf_hash(canonical_json(line["content"]))
        if leaf != line["leaf_hash"]:
            report.flag("content_changed", seq=line["seq"])
        report.checked += 1
    else:  # a place whose record is elsewhere: only its hashes carry the chain
        leaf = line["leaf_hash"]
    if line.get("prev_hash", prev) != prev or chain_hash(prev, leaf) != line["record_hash"]:
        report.flag("chain_broken", seq=line["seq"])
    state["prev"], state["expected"] = line["record_hash"], line["seq"] + 1
