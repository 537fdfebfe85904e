"""Appending: the rows of one access, with their leaf hashes, committed before the answer leaves.

There is one way in, `log_append`, and one path for the rows:

1. `committed_write` picks a connection on which the write commits whatever the caller's open
   transaction does next (a refusal raised inside `transaction.atomic` rolls that back): the
   caller's own outside a transaction, a private one inside (PostgreSQL), or the caller's own
   once its transaction has ended (SQLite, one writer).
2. `_GroupCommit` lets the threads of a process share that write: while one thread's INSERT is
   in flight the others queue, and the next INSERT carries them all, in one statement and one
   commit: what lets concurrent workers append thousands of records a second
   (docs/performance.md, bench/query).
3. `_insert` is one multi-row INSERT … RETURNING id built from the model's fields.

Chaining is a later step (`sequence.log_sequence`), so appends never queue on a lock.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction

from shared.access.log.records import content_leaf_hash, record_content
from shared.access.models import AccessRecord

logger = logging.getLogger(__name__)

PRIVATE_ALIAS = "access_log_private"


def log_append(rows: list[AccessRecord]) -> list[AccessRecord]:
    """Write the rows (already filled in) with their leaf hashes; committed on return (held
    back to the end of the caller's transaction on SQLite, see `committed_write`)."""
    if not settings.ACCESS_LOG_ENABLED or not rows:
        return rows
    for row in rows:
        # Microseconds are what both databases keep; the hash must cover the stored value.
        row.leaf_hash = content_leaf_hash(record_content(row))
    committed_write(functools.partial(_group_commit.append, rows))
    _maybe_request_checkpoint(rows[-1].pk)
    for listener in _appended:
        listener(rows)
    return rows


# Told of every append (after it is committed or, on SQLite, queued for the commit): the hub
# asks for a prompt sequencing when records about a city's licences wait to go down.
_appended: list[Callable[[list[AccessRecord]], None]] = []


def appended_listener_register(listener: Callable[[list[AccessRecord]], None]) -> None:
    if listener not in _appended:
        _appended.append(listener)


def log_import(rows: list[AccessRecord]) -> list[AccessRecord]:
    """Write records another library sent (imported, `origin_library` set) inside the caller's
    transaction, on its own connection: they commit with the envelope that carried them, so a
    delivery that rolls back leaves nothing and its redelivery writes them once. Chained later
    by the sequencer like every row of this library."""
    if not settings.ACCESS_LOG_ENABLED or not rows:
        return rows
    for row in rows:
        row.leaf_hash = content_leaf_hash(record_content(row))
    _insert(rows, DEFAULT_DB_ALIAS)
    return rows


# Writes waiting for the end of the caller's transaction (SQLite only), per thread.
_deferred = threading.local()


def committed_write(write: Callable[[str], None]) -> None:
    """Run `write(alias)` so that what it writes is committed whatever the caller's open
    transaction does next.

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
    all, in one statement and one commit, on the connection its leader was given (every such
    connection commits on its own). Each caller returns only once its own rows are committed,
    and sees the error if their INSERT failed: no record, no answer. A lone caller inserts at
    once, so a single-threaded worker pays nothing for this."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._queue: list[_Pending] = []
        self._leading = False

    def append(self, rows: list[AccessRecord], alias: str) -> None:
        mine = _Pending(rows)
        with self._cond:
            self._queue.append(mine)
            while not mine.done and self._leading:
                self._cond.wait()
            if not mine.done:  # nobody is inserting: this thread inserts, for everyone queued
                self._leading = True
        if not mine.done:
            try:
                self._lead(alias)
            finally:
                with self._cond:
                    self._leading = False
                    self._cond.notify_all()
        if mine.error is not None:
            raise mine.error

    def _lead(self, alias: str) -> None:
        """Insert everything queued so far (this thread's rows among them) in one statement;
        rows queued meanwhile go with the next leader, one of the threads still waiting."""
        with self._cond:
            batch, self._queue = self._queue, []
        error: Exception | None = None
        try:
            _insert([row for pending in batch for row in pending.rows], alias)
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
    columns = ", ".join(connection.ops.quote_name(cast(str, f.column)) for f in fields)
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
        # Imported here: the task module imports this package (it runs the checkpoint).
        from shared.access.tasks import checkpoint

        checkpoint.apply_async(retry=False)  # never hold an answer on a broker outage
    except Exception:  # noqa: BLE001 - beat sweeps every ACCESS_CHECKPOINT_SECONDS anyway
        logger.warning("access log: could not queue a checkpoint", exc_info=True)
