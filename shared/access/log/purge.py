"""Retention purge: archive (signed JSON lines) and remove records older than the retention
period, leaving a leaf stub per record so checkpoints and proofs still hold; and the check of
an archive file on its own. On PostgreSQL whole months go, by dropping their partitions."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

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
from shared.domain.canonical import canonical_json, sm3_hex

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
    digest = _write_archive(path, records, cp)
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
    records = list(partitions.month_records(months))
    path: Path | None = None
    digest = ""
    if records:
        first_seq, last_seq = cast(int, records[0].seq), cast(int, records[-1].seq)
        links = partitions.chain_links(first_seq, last_seq, {cast(int, r.seq) for r in records})
        path = _archive_dir() / f"access-{settings.LIBRARY_CODE}-{first_seq}-{last_seq}.jsonl"
        digest = _write_archive(path, records, cp, links)
    try:
        with transaction.atomic():
            # Stubs first, then the drops: the ACCESS EXCLUSIVE lock of DETACH is held only
            # from the first drop to the commit.
            partitions.months_stub(months, run.pk)
            for month in months:
                partitions.month_drop(month, keep_days=_retention_days())
            if records:
                run.first_seq, run.last_seq = records[0].seq, records[-1].seq
                run.archive_path, run.archive_digest = str(path), digest
            run.count = len(records)
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


def _write_archive(
    path: Path,
    records: list[AccessRecord],
    cp: Checkpoint | None,
    links: dict[int, tuple[str, str]] | None = None,
) -> str:
    header = {
        "format": ARCHIVE_FORMAT,
        "library_code": settings.LIBRARY_CODE,
        "first_seq": records[0].seq,
        "last_seq": records[-1].seq,
        "prev_hash": records[0].prev_hash,
        "last_record_hash": records[-1].record_hash,
        "checkpoint": checkpoint_document(cp) if cp else None,
        "created_at": timezone.now().isoformat(),
    }
    lines = [json.dumps(header, ensure_ascii=False, sort_keys=True)]
    entries = [(cast(int, r.seq), _record_line(r)) for r in records]
    entries += [
        (seq, {"seq": seq, "leaf_hash": leaf, "record_hash": record})
        for seq, (leaf, record) in (links or {}).items()
    ]
    entries.sort(key=lambda entry: entry[0])
    lines += [json.dumps(line, ensure_ascii=False, sort_keys=True) for _, line in entries]
    body = ("\n".join(lines) + "\n").encode()
    digest = sm3_hex(body)
    seal = {
        "sm3": digest,
        "key_id": log_key_id(),
        "public_key": log_public_key_pem(),
        "signature": get_suite("gm").sign(log_signing_key(), bytes.fromhex(digest)).hex(),
    }
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as out:
        out.write(body + json.dumps(seal).encode() + b"\n")
        out.flush()
        os.fsync(out.fileno())
    tmp.replace(path)
    return digest


def archive_verify(path: Path) -> ChainReport:
    """Check an archive file on its own: seal signature, every leaf from its content, the chain
    from the header's prev_hash to its last_record_hash."""
    report = ChainReport()
    raw = path.read_bytes()
    body, _, seal_line = raw.rstrip(b"\n").rpartition(b"\n")
    body += b"\n"
    seal = json.loads(seal_line)
    if sm3_hex(body) != seal["sm3"]:
        report.flag("archive_digest")
    key = public_key_from_pem(seal["public_key"].encode())
    if not get_suite("gm").verify(
        key, bytes.fromhex(seal["signature"]), bytes.fromhex(seal["sm3"])
    ):
        report.flag("archive_signature")
    lines = body.decode().splitlines()
    header = json.loads(lines[0])
    prev, expected = header["prev_hash"], header["first_seq"]
    for text in lines[1:]:
        line = json.loads(text)
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
        prev, expected = line["record_hash"], line["seq"] + 1
    if prev != header["last_record_hash"]:
        report.flag("last_hash")
    report.tree_size = expected - 1
    return report
