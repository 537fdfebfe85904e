"""The rollup: what happened since each source's watermark, added to the monthly counters.

One batch is one transaction: the source's `Watermark` row is locked (one rollup per source at
a time: beat and `statistics rollup` queue on it), the rows past it are read, their counts are
added with `INSERT … ON CONFLICT DO UPDATE SET count = count + excluded.count`, and the
watermark moves, all before the commit. A crash anywhere in a batch leaves counters and
watermark as they were, and the next run reads the same rows again: nothing is counted twice
or lost. Reports read only the counters (`shared.statistics.selectors`), never the sources.

Keys drawn before commit (ids) can commit out of order: a key the batch steps over is kept as
a gap and read when it turns up, or dropped once older than STATISTICS_GAP_SECONDS (an insert
that rolled back). Mutable sources are re-read a little behind their watermark
(STATISTICS_OVERLAP_SECONDS) for the same reason; their `Fact` rows make re-reading harmless.
"""

from __future__ import annotations

import logging
import time
from collections import Counter as Tally
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from shared.statistics.models import Counter, Fact, Watermark
from shared.statistics.sources import (
    KEYED_SOURCES,
    MUTABLE_SOURCES,
    CounterKey,
    KeyedSource,
    MutableSource,
    counts_library,
    source_names,
)

logger = logging.getLogger(__name__)

COUNTER_COLUMNS = (
    "month",
    "library_code",
    "agency_code",
    "type_code",
    "metric",
    "consumer_code",
    "matter_code",
)
UPSERT_CHUNK = 500  # rows per SQLite statement: 4,000 parameters, well inside its limit
MUTABLE_BATCH = 5000
MAX_GAPS = 10000  # gap ranges kept per source; beyond, the oldest are given up (and logged)


def statistics_rollup(
    *,
    sources: list[str] | None = None,
    batch_size: int = 20000,
    budget_seconds: float | None = None,
) -> dict[str, int]:
    """Bring the counters up to date; returns the rows read per source. `budget_seconds`: stop
    starting new batches after that long (beat runs every minute; the rest waits for the next
    run), every batch done so far being committed."""
    wanted = source_names() if sources is None else sources
    deadline = None if budget_seconds is None else time.monotonic() + budget_seconds
    read: dict[str, int] = {}
    for keyed in KEYED_SOURCES:
        if keyed.name in wanted:
            keyed.prepare()
            read[keyed.name] = 0
            while True:
                got = keyed_batch(keyed, batch_size=batch_size)
                read[keyed.name] += got
                if got < batch_size or _past(deadline):
                    break
    # a mutable batch looks its rows' facts up by id: a list SQLite takes in one statement
    mutable_size = min(batch_size, MUTABLE_BATCH)
    for mutable in MUTABLE_SOURCES:
        if mutable.name in wanted and mutable.model() is not None:
            read[mutable.name], cursor = 0, None
            while True:
                # a run goes forward from its own cursor: the overlap is re-read once per run
                got, cursor = mutable_batch(mutable, batch_size=mutable_size, resume=cursor)
                read[mutable.name] += got
                if got < mutable_size or _past(deadline):
                    break
    return read


def _past(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() > deadline


def watermark_for_update(name: str) -> Watermark:
    Watermark.objects.get_or_create(source=name)
    return Watermark.objects.select_for_update().get(source=name)


# --- append-only sources ----------------------------------------------------------------------


@transaction.atomic
def keyed_batch(source: KeyedSource, *, batch_size: int) -> int:
    """One batch of an append-only source: its gaps looked for again, then the next rows."""
    mark = watermark_for_update(source.name)
    now = time.time()
    counts: Tally[CounterKey] = Tally()
    gaps = [tuple(g) for g in mark.gaps]
    if gaps:
        found = source.rows_in([(int(g[0]), int(g[1])) for g in gaps])
        counts.update(source.tally(found))
        gaps = gaps_left(gaps, sorted(r[0] for r in found))
    rows = source.rows_after(mark.last_key, batch_size)
    if rows:
        keys = [r[0] for r in rows]
        if source.gaps_possible:
            gaps += gaps_between(mark.last_key, keys, now)
        mark.last_key = keys[-1]
        counts.update(source.tally(rows))
    counters_add(counts)
    mark.gaps = gaps_kept(source.name, gaps, now)
    mark.rows_read += len(rows)
    mark.run_at = timezone.now()
    mark.save()
    return len(rows)


def gaps_between(last: int, keys: list[int], now: float) -> list[tuple[int, int, float]]:
    """The key ranges between `last` and the sorted `keys` that no row holds (yet)."""
    found: list[tuple[int, int, float]] = []
    previous = last
    for key in keys:
        if key > previous + 1:
            found.append((previous + 1, key - 1, now))
        previous = key
    return found


def gaps_left(gaps: list[tuple[Any, ...]], found: list[int]) -> list[tuple[Any, ...]]:
    """`gaps` without the keys just found (a range split where a key turned up inside it)."""
    left: list[tuple[Any, ...]] = []
    for low, high, seen in gaps:
        start = low
        for key in found:
            if low <= key <= high:
                if key > start:
                    left.append((start, key - 1, seen))
                start = key + 1
        if start <= high:
            left.append((start, high, seen))
    return left


def gaps_kept(name: str, gaps: list[tuple[Any, ...]], now: float) -> list[list[Any]]:
    """The gaps still worth looking for: younger than STATISTICS_GAP_SECONDS, at most
    MAX_GAPS of them (the youngest)."""
    horizon = now - settings.STATISTICS_GAP_SECONDS
    kept = [[low, high, seen] for low, high, seen in gaps if seen >= horizon]
    if len(kept) > MAX_GAPS:
        logger.warning("statistics.gaps_dropped source=%s count=%s", name, len(kept) - MAX_GAPS)
        kept = kept[-MAX_GAPS:]
    return kept


# --- mutable sources --------------------------------------------------------------------------


@transaction.atomic
def mutable_batch(
    source: MutableSource, *, batch_size: int, resume: tuple[Any, str] | None
) -> tuple[int, tuple[Any, str] | None]:
    """One batch of a mutable source, from `resume` or from a little behind its watermark;
    each row's facts not counted before are counted, and remembered. Returns the rows read
    and where the next batch of this run starts."""
    mark = watermark_for_update(source.name)
    after = resume
    if after is None and mark.last_time is not None:
        overlap = timedelta(seconds=settings.STATISTICS_OVERLAP_SECONDS)
        after = (mark.last_time - overlap, "")
    rows = source.rows_after(after, batch_size)
    if not rows:
        return 0, None
    ids = [str(r["id"]) for r in rows]
    known = dict(
        Fact.objects.filter(source=source.name, object_id__in=ids).values_list("object_id", "mask")
    )
    counts: Tally[CounterKey] = Tally()
    masks: dict[str, int] = {}
    for row, object_id in zip(rows, ids, strict=True):
        library, agency, type_code, consumer, matter = source.dimensions(row)
        if not counts_library(library):
            continue
        mask = known.get(object_id, 0)
        for fact in source.facts(row):
            if mask & fact.bit:
                continue
            mask |= fact.bit
            for metric in fact.metrics:
                counts[(fact.month, library, agency, type_code, metric, consumer, matter)] += 1
        if mask != known.get(object_id, 0):
            masks[object_id] = mask
    counters_add(counts)
    Fact.objects.bulk_create(
        [Fact(source=source.name, object_id=i, mask=m) for i, m in masks.items()],
        update_conflicts=True,
        unique_fields=["source", "object_id"],
        update_fields=["mask"],
    )
    last = rows[-1]
    if mark.last_time is None or last["updated_at"] >= mark.last_time:
        mark.last_time, mark.last_id = last["updated_at"], str(last["id"])
    mark.rows_read += len(rows)
    mark.run_at = timezone.now()
    mark.save()
    return len(rows), (last["updated_at"], str(last["id"]))


# --- the counters -----------------------------------------------------------------------------


def counters_add(counts: Tally[CounterKey]) -> None:
    """Add `counts` to the counters, creating the rows they lack, in key order (concurrent
    writers lock rows in the same order, so they queue rather than deadlock)."""
    items = sorted((key, n) for key, n in counts.items() if n)
    if not items:
        return
    table = connection.ops.quote_name(Counter._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(c) for c in (*COUNTER_COLUMNS, "count"))
    conflict = ", ".join(connection.ops.quote_name(c) for c in COUNTER_COLUMNS)
    count = connection.ops.quote_name("count")
    upsert = f"ON CONFLICT ({conflict}) DO UPDATE SET {count} = {table}.{count} + excluded.{count}"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # one array a column: eight parameters, however many rows (the driver would
            # otherwise parse a statement of thousands of placeholders on every call)
            arrays = [
                list(column) for column in zip(*(key + (n,) for key, n in items), strict=True)
            ]
            types = ["date", *["text"] * (len(COUNTER_COLUMNS) - 1), "bigint"]
            unnest = ", ".join(f"%s::{t}[]" for t in types)
            cursor.execute(
                f"INSERT INTO {table} ({columns}) SELECT * FROM unnest({unnest}) {upsert}",  # noqa: S608 - model names only
                arrays,
            )
            return
        group = "(" + ", ".join(["%s"] * (len(COUNTER_COLUMNS) + 1)) + ")"
        for start in range(0, len(items), UPSERT_CHUNK):
            chunk = items[start : start + UPSERT_CHUNK]
            cursor.execute(
                f"INSERT INTO {table} ({columns}) VALUES {', '.join([group] * len(chunk))} {upsert}",  # noqa: S608 - model names only
                [value for key, n in chunk for value in (*key, n)],
            )
