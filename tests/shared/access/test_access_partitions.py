"""The access log partitioned by month on PostgreSQL (migration 0010): the catalog says so, rows
land in their month (or wait in DEFAULT), every partition is append-only, new months come from
an idempotent task, and the retention purge archives and drops whole months.

Every append here comes before any partition DDL: the appends commit on a private connection,
and the DDL holds its locks until the test's transaction ends."""

import threading
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection, connections, transaction
from django.db.utils import DatabaseError
from django.utils import timezone

from shared.access import log, tasks
from shared.access.log import partitions
from shared.access.models import AccessRecord, LeafStub, PurgeRun

pytestmark = pytest.mark.django_db


def row(user, recorded_at, note):
    return AccessRecord(
        library_code="410100",
        occurred_at=recorded_at,
        recorded_at=recorded_at,
        username=user.username,
        agency_code=user.agency.code,
        agency_name=user.agency.name,
        operation="query",
        outcome="none",
        matter_code="M0001",
        use_cause=note,
    )


def months_ago(count, day=2):
    month = partitions.add_months(partitions.month_of(timezone.now()), -count)
    return partitions.month_bounds(month)[0] + timedelta(days=day)


def partition_of(record_id):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tableoid::regclass::text FROM access_accessrecord WHERE id = %s", [record_id]
        )
        return cursor.fetchone()[0]


def part_name(moment):
    return f"access_accessrecord_p{partitions.month_of(moment):%Y%m}"


def test_the_log_is_range_partitioned_by_month_on_write_time():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_partkeydef('access_accessrecord'::regclass)")
        assert cursor.fetchone()[0] == "RANGE (recorded_at)"
        cursor.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
            "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'access_accessrecord'::regclass "
            "AND i.indisprimary ORDER BY a.attname"
        )
        assert [name for (name,) in cursor.fetchall()] == ["id", "recorded_at"]
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'access_accessrecord'")
        definitions = " | ".join(d for (d,) in cursor.fetchall())
        cursor.execute(
            "SELECT pg_get_expr(c.relpartbound, c.oid) FROM pg_class c "
            "WHERE c.relname = 'access_accessrecord_default'"
        )
        assert cursor.fetchone()[0] == "DEFAULT"
    for columns in (
        "(seq)",
        "(issuer_code, occurred_at)",
        "(holder_digest, occurred_at)",
        "(agency_code, occurred_at)",
        "(origin_library, origin_id)",
    ):
        assert columns in definitions
    current = partitions.month_of(timezone.now())
    assert {partitions.add_months(current, n) for n in range(4)} <= set(
        partitions.partition_months()
    )


def test_rows_land_in_their_month_and_wait_in_default_without_one(consumer_user):
    # given: a row of this month, one of five years ago (no partition yet)
    now = timezone.now()
    recent, old = log.log_append(
        [row(consumer_user, now, "本月"), row(consumer_user, months_ago(60), "五年前")]
    )
    # then
    assert partition_of(recent.pk) == part_name(now)
    assert partition_of(old.pk) == "access_accessrecord_default"
    # when: the months are ensured, twice
    created = partitions.partitions_ensure(now=now)
    again = partitions.partitions_ensure(now=now)
    # then: the old row moved to its own month, once; the second run changes nothing
    assert created == [partitions.month_of(months_ago(60))]
    assert again == []
    assert partition_of(old.pk) == part_name(months_ago(60))
    assert AccessRecord.objects.filter(pk__in=[recent.pk, old.pk]).count() == 2
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM access_accessrecord_default")
        assert cursor.fetchone()[0] == 0


def test_the_ensure_task_creates_missing_months_ahead_and_is_idempotent():
    furthest = partitions.add_months(partitions.month_of(timezone.now()), 3)
    name = f"access_accessrecord_p{furthest:%Y%m}"
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE access_accessrecord DETACH PARTITION {name}")
        cursor.execute(f"DROP TABLE {name}")
    assert furthest not in partitions.partition_months()
    assert tasks.partitions_ensure() == 1
    assert tasks.partitions_ensure() == 0
    assert furthest in partitions.partition_months()


def test_every_partition_refuses_updates_and_deletes_directly(consumer_user):
    now = timezone.now()
    recent, old = log.log_append(
        [row(consumer_user, now, "本月"), row(consumer_user, months_ago(61), "旧")]
    )
    log.log_sequence()
    for table, pk in ((part_name(now), recent.pk), ("access_accessrecord_default", old.pk)):
        for sql in (
            f"UPDATE {table} SET use_cause = '改写' WHERE id = %s",
            f"UPDATE {table} SET recorded_at = recorded_at - interval '1 day' WHERE id = %s",
            f"DELETE FROM {table} WHERE id = %s",
        ):
            with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute(sql, [pk])
    assert set(AccessRecord.objects.values_list("use_cause", flat=True)) == {"本月", "旧"}


def old_months_with_a_late_row(user):
    """Rows of 40, 38 and 36 months ago and of today, then one more row written in the month
    of 38 months ago after the one of 36: its place in the chain is after a kept month's."""
    rows = [row(user, months_ago(40, day), f"40-{day}") for day in (1, 2)]
    rows += [row(user, months_ago(38, day), f"38-{day}") for day in (1, 2)]
    rows += [row(user, months_ago(36), "36")]
    log.log_append(rows)
    log.log_sequence()
    log.log_append([row(user, months_ago(38, 20), "38-late"), row(user, timezone.now(), "今天")])
    log.checkpoint_create()


def test_purge_archives_and_drops_exactly_the_months_past_retention(
    consumer_user, settings, tmp_path
):
    settings.ACCESS_ARCHIVE_DIR = str(tmp_path)
    old_months_with_a_late_row(consumer_user)
    partitions.partitions_ensure(now=timezone.now())
    before_purge = set(partitions.partition_months())
    dropped = {partitions.month_of(months_ago(40)), partitions.month_of(months_ago(38))}
    # when
    run = log.access_purge(before=timezone.now() - timedelta(days=1097))
    # then: the months of 40 and 38 months ago are gone, 36 months ago is not wholly past
    assert (run.state, run.first_seq, run.last_seq, run.count) == ("done", 1, 6, 5)
    assert set(partitions.partition_months()) == before_purge - dropped
    assert sorted(AccessRecord.objects.values_list("use_cause", flat=True)) == ["36", "今天"]
    assert list(LeafStub.objects.order_by("seq").values_list("seq", flat=True)) == [1, 2, 3, 4, 6]
    archive = Path(run.archive_path)
    report = log.archive_verify(archive)
    assert (report.ok, report.checked, report.tree_size) == (True, 5, 6)
    assert "38-late" in archive.read_text(encoding="utf-8")
    assert log.log_verify().ok
    assert log.log_proof(seq=5)["verified"]


def test_the_database_refuses_to_drop_a_month_it_should_keep(consumer_user):
    old_months_with_a_late_row(consumer_user)
    partitions.partitions_ensure(now=timezone.now())
    attempts = (
        (months_ago(36), 1096, "not wholly older"),
        (timezone.now(), 1096, "not wholly older"),
        (months_ago(40), 10, "1096"),
        (months_ago(40), 1096, "stubs"),
        (months_ago(50), 1096, "no access-log partition"),
    )
    for moment, keep_days, message in attempts:
        with pytest.raises(DatabaseError, match=message), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT access_log_partition_drop(%s, %s)",
                    [partitions.month_of(moment), keep_days],
                )
    assert AccessRecord.objects.count() == 7
    assert partitions.month_of(months_ago(40)) in partitions.partition_months()


def test_a_month_not_covered_by_a_checkpoint_is_not_purgeable(consumer_user):
    log.log_append([row(consumer_user, months_ago(40), "旧")])
    log.log_sequence()
    partitions.partitions_ensure(now=timezone.now())
    before = timezone.now() - timedelta(days=1097)
    assert partitions.months_purgeable(before=before, covered=0) == []
    assert [m.month for m in partitions.months_purgeable(before=before, covered=1)] == [
        partitions.month_of(months_ago(40))
    ]
    assert PurgeRun.objects.count() == 0


def test_beat_ensures_the_months_daily(settings):
    assert settings.CELERY_BEAT_SCHEDULE["access-partitions"] == {
        "task": "access.partitions_ensure",
        "schedule": 86400,
    }


def test_a_since_filter_reads_only_the_months_that_can_hold_it(consumer_user):
    from shared.access.selectors import access_log_since

    log.log_append(
        [row(consumer_user, months_ago(40), "旧"), row(consumer_user, months_ago(1), "新")]
    )
    partitions.partitions_ensure(now=timezone.now())
    since = partitions.month_bounds(partitions.month_of(months_ago(1)))[0]
    records = access_log_since(AccessRecord.objects.all(), moment=since)
    plan = records.explain()
    assert part_name(months_ago(40)) not in plan
    assert part_name(months_ago(1)) in plan
    assert [r.use_cause for r in records] == ["新"]


def test_a_month_is_archived_a_chunk_at_a_time(consumer_user, settings, tmp_path):
    """A month of a busy hub holds millions of records: the purge streams them into the
    archive (it used to hold the month's records, and the archive's text, in memory)."""
    settings.ACCESS_ARCHIVE_DIR = str(tmp_path)
    count = 12_000
    moment = months_ago(40)
    for start in range(0, count, 2_000):
        log.log_append(
            [
                row(consumer_user, moment + timedelta(seconds=i), f"旧{i}")
                for i in range(start, start + 2_000)
            ]
        )
    log.log_sequence()
    log.checkpoint_create()
    partitions.partitions_ensure(now=timezone.now())
    tracemalloc.start()
    try:
        run = log.access_purge(before=timezone.now() - timedelta(days=1097))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (run.state, run.count, run.first_seq, run.last_seq) == ("done", count, 1, count)
    report = log.archive_verify(Path(run.archive_path))
    assert (report.ok, report.checked) == (True, count)
    assert not AccessRecord.objects.exists()
    # 13.6 MiB (a chunk of 5,000 records at most); 108 MiB when the month was held whole
    assert peak < 40 * 2**20, f"peak {peak / 2**20:.1f} MiB for {count} records"


@pytest.mark.django_db(transaction=True)
def test_appends_and_sequencing_go_on_while_a_month_is_dropped(
    consumer_user, settings, tmp_path, monkeypatch
):
    """The purge's DETACH takes the whole table's strongest lock: writers wait for its commit,
    none fails, and no record is lost (every access of those seconds is in the chain). The
    drop here holds that lock half a second longer, so that writers do meet it."""
    settings.ACCESS_ARCHIVE_DIR = str(tmp_path)
    log.log_append([row(consumer_user, months_ago(40, day), f"旧{day}") for day in (1, 2, 3)])
    log.log_sequence()
    log.checkpoint_create()
    partitions.partitions_ensure(now=timezone.now())
    stop, written, errors, slowest = threading.Event(), [], [], [0.0]

    def writer() -> None:
        try:
            while not stop.is_set():
                began = time.monotonic()
                log.log_append([row(consumer_user, timezone.now(), f"live{len(written)}")])
                written.append(1)
                if len(written) % 10 == 0:
                    log.log_sequence()
                slowest[0] = max(slowest[0], time.monotonic() - began)
        except Exception as exc:  # noqa: BLE001 - the assertion shows it
            errors.append(exc)
        finally:
            connections.close_all()

    drop, held = partitions.month_drop, []

    def slow_drop(month, **kwargs):  # type: ignore[no-untyped-def]
        dropped = drop(month, **kwargs)
        held.append(len(written))
        time.sleep(0.5)  # the lock is held until the purge commits
        return dropped

    monkeypatch.setattr(partitions, "month_drop", slow_drop)
    thread = threading.Thread(target=writer)
    thread.start()
    try:
        time.sleep(0.3)  # writing before, during and after
        run = log.access_purge(before=timezone.now() - timedelta(days=1097))
        time.sleep(0.3)
    finally:
        stop.set()
        thread.join(30)
    assert errors == []
    assert (run.state, run.count) == ("done", 3)
    assert partitions.month_of(months_ago(40)) not in partitions.partition_months()
    live = AccessRecord.objects.filter(use_cause__startswith="live")
    assert live.count() == len(written) > 10
    log.log_sequence()
    assert not AccessRecord.objects.filter(seq__isnull=True).exists()
    assert log.log_verify().ok
    # the writer waited for the lock (one append took the half second), then went on
    assert len(held) == 1 and 0 < held[0] < len(written)
    assert 0.4 < slowest[0] < 10, slowest
