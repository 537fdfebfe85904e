"""The access log: append, sequence into the hash chain, checkpoint, prove, verify, purge.

Writing and chaining are two steps, as in a Certificate Transparency log's sequencer:

1. `log_append` writes the rows of one access (one per licence) with their SM3 leaf hash in a
   single INSERT, committed before the answer leaves. When the caller is inside a transaction
   (which may still roll back), the rows go through a connection of their own (PostgreSQL),
   or wait until the caller's outermost transaction has ended, committed or rolled back
   (SQLite, one writer: `log_flush_deferred`), so a refusal stays recorded whatever the
   caller does next.
2. `log_sequence` gives unsequenced rows, in insertion order, their place in the chain:
   `seq`, `prev_hash` and `record_hash = SM3(prev_hash ‖ leaf_hash)`, under the lock of the
   single `ChainHead` row. It runs in batches (every `ACCESS_CHECKPOINT_EVERY` records or
   `ACCESS_CHECKPOINT_SECONDS`, and before any proof), so appends never queue on a lock.
3. `checkpoint_create` signs (SM2) the Merkle root over the leaves 1..n with the chain head:
   the hub witnesses these and checks that each one extends the last.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.utils import timezone

from shared.access import merkle
from shared.access.keys import log_key_id, log_public_key_pem, log_signing_key
from shared.access.models import AccessRecord, ChainHead, Checkpoint, LeafStub, PurgeRun
from shared.conf.env import var_dir
from shared.core.errors import ConflictError, NotFoundError, PermanentError
from shared.crypto.suites import get_suite, public_key_from_pem
from shared.domain.canonical import canonical_json, sm3_hex

logger = logging.getLogger(__name__)

PRIVATE_ALIAS = "access_log_private"
ARCHIVE_FORMAT = "elicense-access-archive/1"
CONTENT_FIELDS = (
    "request_id",
    "library_code",
    "occurred_at",
    "user_ref",
    "username",
    "agency_code",
    "agency_name",
    "operation",
    "outcome",
    "reason_code",
    "matter_code",
    "use_cause",
    "identifier",
    "type_code",
    "issuer_code",
    "source_library",
    "holder_digest",
    "holder_code_type",
    "detail",
)


class LogIntegrityError(ConflictError):
    """The stored log does not hang together (a gap, a broken link): someone tampered."""


def genesis_hash(library_code: str) -> str:
    return sm3_hex(b"elicense-access-log\x00" + library_code.encode())


def record_content(record: AccessRecord) -> dict[str, Any]:
    """What a record's leaf hash covers: every field but the chain fields and the row id."""
    content = {name: getattr(record, name) for name in CONTENT_FIELDS}
    content["request_id"] = str(content["request_id"])
    content["occurred_at"] = record.occurred_at
    return content


def content_leaf_hash(content: dict[str, Any]) -> str:
    return merkle.leaf_hash(canonical_json(content))


def chain_hash(prev_hash: str, leaf: str) -> str:
    return sm3_hex(bytes.fromhex(prev_hash) + bytes.fromhex(leaf))


# --- 1. append -------------------------------------------------------------------------------


def log_append(rows: list[AccessRecord]) -> list[AccessRecord]:
    """Write the rows (already filled in) with their leaf hashes; committed on return."""
    if not settings.ACCESS_LOG_ENABLED or not rows:
        return rows
    for row in rows:
        # Microseconds are what both databases keep; the hash must cover the stored value.
        row.leaf_hash = content_leaf_hash(record_content(row))
    default = connections[DEFAULT_DB_ALIAS]
    if default.vendor != "sqlite" and not default.in_atomic_block:
        _group_commit.append(rows)
    else:
        committed_write(lambda alias: _insert(rows, alias))
    _maybe_request_checkpoint(rows[-1].pk)
    return rows


# Writes waiting for the end of the caller's transaction (SQLite only), per thread.
_deferred = threading.local()


def committed_write(write: Callable[[str], None]) -> None:
    """Run `write(alias)` so that what it writes is committed whatever the caller's open
    transaction does next (a refusal raised inside `transaction.atomic` rolls that back).

    Outside a transaction: now, on the default connection. Inside one, on PostgreSQL: now,
    through a connection of its own. Inside one, on SQLite (the demo): a second connection
    would wait on the caller's own write lock, so the write waits instead until the caller's
    outermost transaction has ended: at its commit (`on_commit`), or after a rollback at the
    next `log_flush_deferred` — the API views call it before the answer leaves, and the end of
    every request and task calls it too (`shared.access.apps`)."""
    default = connections[DEFAULT_DB_ALIAS]
    if not default.in_atomic_block:
        write(DEFAULT_DB_ALIAS)
    elif default.vendor == "sqlite":
        pending = getattr(_deferred, "writes", None)
        if pending is None:
            pending = _deferred.writes = []
        pending.append(write)
        transaction.on_commit(log_flush_deferred)
    else:
        private = connections.create_connection(DEFAULT_DB_ALIAS)
        connections[PRIVATE_ALIAS] = private
        try:
            write(PRIVATE_ALIAS)
        finally:
            del connections[PRIVATE_ALIAS]
            private.close()


def log_flush_deferred(**_signal: Any) -> int:
    """Write what `committed_write` held back while this thread was inside a transaction;
    returns how many writes ran. Still inside one: kept for its end (nothing is lost)."""
    pending = getattr(_deferred, "writes", None)
    if not pending or connections[DEFAULT_DB_ALIAS].in_atomic_block:
        return 0
    _deferred.writes = []
    for write in pending:
        write(DEFAULT_DB_ALIAS)
    return len(pending)


class _GroupCommit:
    """Group commit for threads of one process (gthread workers, Celery threads): while one
    thread's INSERT is in flight, the others queue their rows; the next INSERT carries them
    all, in one statement and one commit. Each caller returns only once its own rows are
    committed, and sees the error if their INSERT failed: no record, no answer, as before.
    A lone caller inserts at once, so a single-threaded worker pays nothing for this."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._queue: list[_Pending] = []
        self._leading = False

    def append(self, rows: list[AccessRecord]) -> None:
        mine = _Pending(rows)
        with self._cond:
            self._queue.append(mine)
            while not mine.done and self._leading:
                self._cond.wait()
            if not mine.done:  # nobody is inserting: this thread inserts, for everyone queued
                self._leading = True
        if not mine.done:
            try:
                self._lead()
            finally:
                with self._cond:
                    self._leading = False
                    self._cond.notify_all()
        if mine.error is not None:
            raise mine.error

    def _lead(self) -> None:
        """Insert everything queued so far (this thread's rows among them) in one statement;
        rows queued meanwhile go with the next leader, one of the threads still waiting."""
        with self._cond:
            batch, self._queue = self._queue, []
        error: Exception | None = None
        try:
            _insert([row for pending in batch for row in pending.rows], DEFAULT_DB_ALIAS)
        except Exception as exc:  # noqa: BLE001 - handed to every caller of the batch
            error = exc
        with self._cond:
            for pending in batch:
                pending.error, pending.done = error, True


@dataclass(slots=True)
class _Pending:
    rows: list[AccessRecord]
    done: bool = False
    error: Exception | None = None


_group_commit = _GroupCommit()


def _insert(rows: list[AccessRecord], alias: str) -> None:
    """One multi-row INSERT … RETURNING id, without an explicit transaction: one round trip and
    one commit per access. Built from the model's fields (each value prepared by its field, as
    the ORM would), skipping the ORM's per-object machinery, which costs more than the insert."""
    connection = connections[alias]
    fields = [f for f in AccessRecord._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    group = "(" + ", ".join(["%s"] * len(fields)) + ")"
    values = [
        f.get_db_prep_save(getattr(row, f.attname), connection) for row in rows for f in fields
    ]
    # Table and columns come from the model; every value is a parameter.
    sql = (
        f"INSERT INTO {AccessRecord._meta.db_table} ({columns}) "  # noqa: S608
        f"VALUES {', '.join([group] * len(rows))} RETURNING id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        ids = [r[0] for r in cursor.fetchall()]
    for row, pk in zip(rows, sorted(ids), strict=True):
        row.pk = pk
        # The rows live in the one database (a private connection is only a way in).
        row._state.adding, row._state.db = False, DEFAULT_DB_ALIAS


def _maybe_request_checkpoint(last_id: int | None) -> None:
    every = settings.ACCESS_CHECKPOINT_EVERY
    if not last_id or not every or last_id % every:
        return
    try:
        from shared.access.tasks import checkpoint

        checkpoint.apply_async(retry=False)  # never hold an answer on a broker outage
    except Exception:  # noqa: BLE001 - beat sweeps every ACCESS_CHECKPOINT_SECONDS anyway
        logger.warning("access log: could not queue a checkpoint", exc_info=True)


# --- 2. sequence -----------------------------------------------------------------------------


def _head_for_update() -> ChainHead:
    ChainHead.objects.get_or_create(
        pk=1, defaults={"seq": 0, "record_hash": genesis_hash(settings.LIBRARY_CODE)}
    )
    return ChainHead.objects.select_for_update().get(pk=1)


@transaction.atomic
def log_sequence(*, limit: int = 20000) -> int:
    """Chain every unsequenced record, oldest first; returns how many were chained."""
    head = _head_for_update()
    pending = list(
        AccessRecord.objects.filter(seq__isnull=True)
        .order_by("id")
        .values_list("id", "leaf_hash")[:limit]
    )
    if not pending:
        return 0
    seq, prev = head.seq, head.record_hash
    links = []
    for pk, leaf in pending:
        seq += 1
        record_hash = chain_hash(prev, leaf)
        links.append((pk, seq, prev, record_hash))
        prev = record_hash
    _write_links(links)
    head.seq, head.record_hash = seq, prev
    head.save(update_fields=["seq", "record_hash", "updated_at"])
    return len(pending)


def _write_links(links: list[tuple[int, int, str, str]]) -> None:
    """Set (seq, prev_hash, record_hash) on many rows in few statements."""
    connection = connections[DEFAULT_DB_ALIAS]
    table = AccessRecord._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for start in range(0, len(links), 1000):
                chunk = links[start : start + 1000]
                groups = ", ".join(["(%s::bigint, %s::bigint, %s, %s)"] * len(chunk))
                cursor.execute(
                    f"UPDATE {table} AS r SET seq = v.seq, prev_hash = v.prev, "  # noqa: S608
                    f"record_hash = v.rh FROM (VALUES {groups}) AS v(id, seq, prev, rh) "
                    "WHERE r.id = v.id AND r.seq IS NULL",
                    [value for link in chunk for value in link],
                )
        else:
            cursor.executemany(
                f"UPDATE {table} SET seq = %s, prev_hash = %s, record_hash = %s WHERE id = %s",  # noqa: S608
                [(seq, prev, rh, pk) for pk, seq, prev, rh in links],
            )


# --- 3. checkpoints and proofs ---------------------------------------------------------------


def _leaf_hashes(first: int, last: int) -> list[str]:
    """Leaf hashes for seq first..last, from purge stubs and live records; gap → tampering."""
    if last < first:
        return []
    stubs = LeafStub.objects.filter(seq__gte=first, seq__lte=last).values_list("seq", "leaf_hash")
    live = AccessRecord.objects.filter(seq__gte=first, seq__lte=last).values_list(
        "seq", "leaf_hash"
    )
    pairs = sorted([*stubs, *live])
    if [s for s, _ in pairs] != list(range(first, last + 1)):
        raise LogIntegrityError(
            "access.log_gap", "用证记录链不连续，可能被删除或篡改", {"first": first, "last": last}
        )
    return [h for _, h in pairs]


def checkpoint_payload_bytes(
    *, library_code: str, tree_size: int, root_hash: str, head_hash: str, signed_at: datetime
) -> bytes:
    return canonical_json(
        {
            "library_code": library_code,
            "tree_size": tree_size,
            "root_hash": root_hash,
            "head_hash": head_hash,
            "signed_at": signed_at,
        }
    )


def checkpoint_create() -> Checkpoint | None:
    """Sequence what is pending, then sign a checkpoint if the tree grew; None for an empty
    log. Safe to run concurrently and twice: checkpoints are unique per tree size."""
    log_sequence()
    with transaction.atomic():
        head = _head_for_update()
        last = Checkpoint.objects.order_by("-tree_size").first()
        if head.seq == 0:
            return None
        if last is not None and last.tree_size >= head.seq:
            return last
        size, frontier = (last.tree_size, list(last.frontier)) if last else (0, [])
        frontier = merkle.frontier_extend(frontier, size, _leaf_hashes(size + 1, head.seq))
        root_hash = merkle.frontier_root(frontier)
        signed_at = timezone.now().replace(microsecond=0)
        payload = checkpoint_payload_bytes(
            library_code=settings.LIBRARY_CODE,
            tree_size=head.seq,
            root_hash=root_hash,
            head_hash=head.record_hash,
            signed_at=signed_at,
        )
        signature = get_suite("gm").sign(log_signing_key(), payload)
        return Checkpoint.objects.create(
            tree_size=head.seq,
            root_hash=root_hash,
            head_hash=head.record_hash,
            frontier=frontier,
            library_code=settings.LIBRARY_CODE,
            signed_at=signed_at,
            key_id=log_key_id(),
            public_key=log_public_key_pem(),
            signature=signature.hex(),
        )


def checkpoint_document(cp: Checkpoint) -> dict[str, Any]:
    return {
        "library_code": cp.library_code,
        "tree_size": cp.tree_size,
        "root_hash": cp.root_hash,
        "head_hash": cp.head_hash,
        "signed_at": cp.signed_at.isoformat(),
        "key_id": cp.key_id,
        "public_key": cp.public_key,
        "signature": cp.signature,
    }


def checkpoint_export(*, from_size: int = 0, checkpoint: Checkpoint | None = None) -> dict:
    """The node-side message for the hub: the latest signed checkpoint and, when the hub has
    witnessed `from_size` before, the RFC 9162 proof that this tree extends that one."""
    cp = checkpoint or checkpoint_create()
    if cp is None:
        raise NotFoundError("access.no_checkpoint", "尚无用证记录检查点")
    document = checkpoint_document(cp)
    if 0 < from_size <= cp.tree_size:
        leaves = _leaf_hashes(1, cp.tree_size)
        document["consistency"] = {
            "from_size": from_size,
            "proof": merkle.consistency_proof(leaves, from_size),
        }
    return document


def checkpoint_verify_signature(document: dict[str, Any], public_key_pem: str) -> bool:
    try:
        key = public_key_from_pem(public_key_pem.encode())
        payload = checkpoint_payload_bytes(
            library_code=str(document["library_code"]),
            tree_size=int(document["tree_size"]),
            root_hash=str(document["root_hash"]),
            head_hash=str(document["head_hash"]),
            signed_at=datetime.fromisoformat(str(document["signed_at"])),
        )
        return get_suite("gm").verify(key, bytes.fromhex(str(document["signature"])), payload)
    except Exception:  # noqa: BLE001 - anything malformed is simply not a valid signature
        return False


def log_proof(*, seq: int) -> dict[str, Any]:
    """An inclusion proof of record `seq` in the smallest signed checkpoint that covers it."""
    record = AccessRecord.objects.filter(seq=seq).only("seq", "leaf_hash", "record_hash").first()
    if record is None:
        raise NotFoundError("access.record_not_found", "用证记录不存在")
    cp = Checkpoint.objects.filter(tree_size__gte=seq).order_by("tree_size").first()
    if cp is None:
        wait = max(int(settings.ACCESS_CHECKPOINT_SECONDS), 1)
        raise ConflictError(
            "access.proof_pending",
            f"该记录尚未纳入签名检查点（每 {wait} 秒签署一次），请约 {wait} 秒后再试",
            {"seq": seq, "retry_after_seconds": wait},
        )
    leaves = _leaf_hashes(1, cp.tree_size)
    proof = merkle.inclusion_proof(leaves, seq - 1)
    return {
        "seq": seq,
        "leaf_index": seq - 1,
        "leaf_hash": record.leaf_hash,
        "record_hash": record.record_hash,
        "audit_path": proof,
        "checkpoint": checkpoint_document(cp),
        "verified": merkle.verify_inclusion(
            record.leaf_hash, seq - 1, cp.tree_size, proof, cp.root_hash
        ),
    }


# --- verification ----------------------------------------------------------------------------


@dataclass(slots=True)
class ChainReport:
    ok: bool = True
    checked: int = 0
    tree_size: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)

    def flag(self, code: str, **facts: Any) -> None:
        self.ok = False
        if len(self.problems) < 100:
            self.problems.append({"code": code, **facts})


def _sequenced() -> Iterator[tuple[int, str, str, AccessRecord | None]]:
    """(seq, leaf hash to use, stored record hash, record) in seq order, stubs first."""
    for stub in LeafStub.objects.order_by("seq").iterator(chunk_size=2000):
        yield stub.seq, stub.leaf_hash, stub.record_hash, None
    for record in (
        AccessRecord.objects.filter(seq__isnull=False).order_by("seq").iterator(chunk_size=2000)
    ):
        yield record.seq, content_leaf_hash(record_content(record)), record.record_hash, record


def log_verify() -> ChainReport:
    """Recompute every leaf from its content, every link of the chain, the head, and the root
    of every checkpoint from the recomputed leaves (so rewriting content *and* hashes still
    fails against the signed roots); check every checkpoint's signature."""
    report = ChainReport()
    checkpoints = {cp.tree_size: cp for cp in Checkpoint.objects.all()}
    prev = genesis_hash(settings.LIBRARY_CODE)
    expected = 1
    frontier: list[str] = []
    size = 0
    for seq, leaf, stored_hash, record in _sequenced():
        if seq != expected:
            report.flag("missing" if seq > expected else "duplicate", seq=expected, found=seq)
            expected = seq
        if record is not None:
            if leaf != record.leaf_hash:
                report.flag("content_changed", seq=seq)
            if record.prev_hash != prev:
                report.flag("chain_broken", seq=seq)
            if chain_hash(prev, leaf) != stored_hash:
                report.flag("record_hash_mismatch", seq=seq)
        frontier = merkle.frontier_extend(frontier, size, [leaf])
        size += 1
        cp = checkpoints.get(size)
        if cp is not None and merkle.frontier_root(frontier) != cp.root_hash:
            report.flag("checkpoint_mismatch", tree_size=size)
        prev = stored_hash
        expected = seq + 1
        report.checked += 1
    report.tree_size = expected - 1
    head = ChainHead.objects.filter(pk=1).first()
    if head is not None and (head.seq, head.record_hash) != (report.tree_size, prev):
        report.flag("head_mismatch", head_seq=head.seq, chain_seq=report.tree_size)
    for cp in checkpoints.values():
        if cp.tree_size > report.tree_size:
            report.flag("checkpoint_beyond_log", tree_size=cp.tree_size)
        if not checkpoint_verify_signature(checkpoint_document(cp), cp.public_key):
            report.flag("checkpoint_signature", tree_size=cp.tree_size)
    return report


# --- retention purge -------------------------------------------------------------------------


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


def access_purge(*, before: datetime, requested_by: str = "system") -> PurgeRun:
    """Archive and remove the records older than `before` (a prefix of the chain covered by a
    signed checkpoint). Refuses, and records the refusal, when `before` would reach records
    younger than `ACCESS_RETENTION_DAYS` (1,096 days, art. 27)."""
    retention = max(settings.ACCESS_RETENTION_DAYS, 1096)
    limit = timezone.now() - timedelta(days=retention)
    if before > limit:
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
    cp = checkpoint_create()
    run = PurgeRun.objects.create(before=before, requested_by=requested_by)
    younger = AccessRecord.objects.filter(seq__isnull=False, occurred_at__gte=before)
    first_young = younger.order_by("seq").values_list("seq", flat=True).first()
    last = min(
        (first_young - 1) if first_young else (cp.tree_size if cp else 0),
        cp.tree_size if cp else 0,
    )
    records = list(AccessRecord.objects.filter(seq__isnull=False, seq__lte=last).order_by("seq"))
    if not records:
        run.state, run.finished_at = PurgeRun.State.DONE, timezone.now()
        run.save(update_fields=["state", "finished_at"])
        return run
    first_seq, last_seq = records[0].seq, records[-1].seq
    path = _archive_dir() / f"access-{settings.LIBRARY_CODE}-{first_seq}-{last_seq}.jsonl"
    digest = _write_archive(path, records, cp)
    try:
        with transaction.atomic():
            LeafStub.objects.bulk_create(
                [
                    LeafStub(
                        seq=r.seq, leaf_hash=r.leaf_hash, record_hash=r.record_hash, purge_run=run
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
        PurgeRun.objects.filter(pk=run.pk).update(
            state=PurgeRun.State.FAILED, last_error=str(exc)[:500], finished_at=timezone.now()
        )
        raise
    return run


def _delete_records(first_seq: int, last_seq: int) -> None:
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.vendor == "postgresql":
        # The trigger of migration 0002 lets only this function delete, and it re-checks the
        # retention period in the database itself (docs/access-log.md).
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT access_log_purge(%s, %s, %s)",
                [first_seq, last_seq, max(settings.ACCESS_RETENTION_DAYS, 1096)],
            )
        return
    AccessRecord.objects.filter(seq__gte=first_seq, seq__lte=last_seq).delete()


def _write_archive(path: Path, records: list[AccessRecord], cp: Checkpoint | None) -> str:
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
    lines += [json.dumps(_record_line(r), ensure_ascii=False, sort_keys=True) for r in records]
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
        leaf = merkle.leaf_hash(canonical_json(line["content"]))
        if leaf != line["leaf_hash"]:
            report.flag("content_changed", seq=line["seq"])
        if line["prev_hash"] != prev or chain_hash(prev, leaf) != line["record_hash"]:
            report.flag("chain_broken", seq=line["seq"])
        prev, expected = line["record_hash"], line["seq"] + 1
        report.checked += 1
    if prev != header["last_record_hash"]:
        report.flag("last_hash")
    report.tree_size = expected - 1
    return report
