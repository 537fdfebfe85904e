"""The access log's monthly partitions (PostgreSQL; migration 0010): which exist, creating the
months ahead, and what the retention purge needs to drop whole months.

A partition holds one UTC month of `recorded_at` (when this library wrote the row). Rows for a
month without a partition land in the DEFAULT partition; `partitions_ensure` moves them to their
month when it creates it. On SQLite (the demo) the table is not partitioned and these do nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import cast

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Q

from shared.access.models import AccessRecord, LeafStub

PARENT = "access_accessrecord"
PREFIX = "access_accessrecord_p"
MONTHS_AHEAD = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class MonthStats:
    month: date
    rows: int
    unsequenced: int
    max_seq: int | None
    youngest: datetime | None


def month_of(moment: datetime) -> date:
    moment = moment.astimezone(UTC)
    return date(moment.year, moment.month, 1)


def add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """[start, end) of a UTC month, as the partition's bounds."""
    start = datetime(month.year, month.month, 1, tzinfo=UTC)
    end = add_months(month, 1)
    return start, datetime(end.year, end.month, 1, tzinfo=UTC)


def is_partitioned() -> bool:
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [PARENT])
        row = cursor.fetchone()
    return bool(row and row[0] == "p")


def partition_months() -> list[date]:
    """The months that have a partition, oldest first (empty when not partitioned)."""
    if not is_partitioned():
        return []
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(%s) AND c.relname LIKE %s",
            [PARENT, PREFIX + "%"],
        )
        names = [name for (name,) in cursor.fetchall()]
    return sorted(date(int(n[-6:-2]), int(n[-2:]), 1) for n in names)


def partitions_ensure(*, now: datetime, ahead: int = MONTHS_AHEAD) -> list[date]:
    """Create the partitions of this month and the next `ahead` months, and of every month
    with rows waiting in the DEFAULT partition (moving them in); returns the months created.
    Idempotent: an existing month is left alone."""
    if not is_partitioned():
        return []
    current = month_of(now)
    wanted = {add_months(current, n) for n in range(ahead + 1)}
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT access_log_partition_waiting()")
        wanted |= {month for (month,) in cursor.fetchall()}
        created = []
        for month in sorted(wanted):
            cursor.execute("SELECT access_log_partition_ensure(%s)", [month])
            if cursor.fetchone()[0]:
                created.append(month)
    return created


def month_stats(month: date) -> MonthStats:
    """Counts of one month's partition (the bounds on `recorded_at` prune to it)."""
    start, end = month_bounds(month)
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute(
            f"SELECT count(*), count(*) FILTER (WHERE seq IS NULL), max(seq), max(occurred_at) "  # noqa: S608
            f"FROM {PARENT} WHERE recorded_at >= %s AND recorded_at < %s",
            [start, end],
        )
        rows, unsequenced, max_seq, youngest = cursor.fetchone()
    return MonthStats(
        month=month, rows=rows, unsequenced=unsequenced, max_seq=max_seq, youngest=youngest
    )


def months_purgeable(*, before: datetime, covered: int) -> list[MonthStats]:
    """The oldest months, in order, that end by `before`, whose every record is in the chain
    and covered by the checkpoint of size `covered`, and none of whose records happened after
    `before`. Stops at the first month that is not: only a prefix of months goes."""
    found = []
    for month in partition_months():
        if month_bounds(month)[1] > before:
            break
        stats = month_stats(month)
        if stats.unsequenced or (stats.max_seq or 0) > covered:
            break
        if stats.youngest is not None and stats.youngest > before:
            break
        found.append(stats)
    return found


def _within(months: list[date]) -> Q:
    within = Q()
    for month in months:
        start, end = month_bounds(month)
        within |= Q(recorded_at__gte=start, recorded_at__lt=end)
    return within


def month_records(months: list[date]) -> Iterator[AccessRecord]:
    """The months' records in chain order, read from their partitions only (not from DEFAULT,
    which the purge does not drop), a chunk at a time: a month of a busy hub is millions."""
    if not months:
        return iter(())
    return AccessRecord.objects.filter(_within(months)).order_by("seq").iterator(chunk_size=5000)


def months_ends(months: list[date]) -> tuple[AccessRecord, AccessRecord] | None:
    """The months' first and last records in the chain (None: no record)."""
    if not months:
        return None
    rows = AccessRecord.objects.filter(_within(months))
    first, last = rows.order_by("seq").first(), rows.order_by("-seq").first()
    return None if first is None or last is None else (first, last)


def chain_links(months: list[date], first: int, last: int) -> dict[int, tuple[str, str]]:
    """(leaf hash, record hash) of the places first..last whose record is not in `months`:
    records of other months (kept, or archived before as stubs) whose hashes carry the
    archive's chain across them. Usually none: only where one month's last places and the
    next one's first interleave."""
    places = Q(seq__gte=first, seq__lte=last)
    links: dict[int, tuple[str, str]] = {}
    for rows in (
        LeafStub.objects.filter(places),
        AccessRecord.objects.filter(places).exclude(_within(months)),
    ):
        found = rows.values_list("seq", "leaf_hash", "record_hash")
        links |= {cast(int, seq): (leaf, record) for seq, leaf, record in found}
    return links


def months_stub(months: list[date], run_id: int) -> int:
    """One INSERT … SELECT per month: a leaf stub for each of its records."""
    count = 0
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        for month in months:
            start, end = month_bounds(month)
            cursor.execute(
                "INSERT INTO access_leafstub (seq, leaf_hash, record_hash, purge_run_id) "  # noqa: S608
                f"SELECT seq, leaf_hash, record_hash, %s FROM {PARENT} "
                "WHERE recorded_at >= %s AND recorded_at < %s",
                [run_id, start, end],
            )
            count += cursor.rowcount
    return count


def month_drop(month: date, *, keep_days: int) -> int:
    """Detach and drop a month through `access_log_partition_drop`, which re-checks retention,
    the chain and the stubs in the database; returns the rows dropped."""
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT access_log_partition_drop(%s, %s)", [month, keep_days])
        return int(cursor.fetchone()[0])
