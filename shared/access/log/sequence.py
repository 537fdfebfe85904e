"""Sequencing: unsequenced rows, in insertion order, get their place in the hash chain —
`seq`, `prev_hash` and `record_hash = SM3(prev_hash ‖ leaf_hash)` — under the lock of the single
`ChainHead` row, as a Certificate Transparency log's sequencer does. It runs in batches (every
`ACCESS_CHECKPOINT_EVERY` records or `ACCESS_CHECKPOINT_SECONDS`, and before any proof)."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction

from shared.access.log.records import chain_hash, genesis_hash
from shared.access.models import AccessRecord, ChainHead

# Called inside the sequencer's transaction with the ids it has just chained, in chain order:
# what must happen exactly once per record and together with its place in the chain (the hub
# writes `access.record` outbox rows for the cities' licences, provincial_hub.aggregation).
SequencedListener = Callable[[list[int]], None]
_listeners: list[SequencedListener] = []


def sequenced_listener_register(listener: SequencedListener) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


def head_for_update() -> ChainHead:
    """The chain head, created at the genesis hash on first use, locked until commit."""
    ChainHead.objects.get_or_create(
        pk=1, defaults={"seq": 0, "record_hash": genesis_hash(settings.LIBRARY_CODE)}
    )
    return ChainHead.objects.select_for_update().get(pk=1)


@transaction.atomic
def log_sequence(*, limit: int = 20000) -> int:
    """Chain every unsequenced record, oldest first; returns how many were chained."""
    head = head_for_update()
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
    for listener in _listeners:
        listener([pk for pk, _ in pending])
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
