"""bench/accesslog: the access log partitioned by month — query plans with partition pruning
at a few million records over 40 months, and the retention purge of one month by dropping
its partition against deleting the same rows (docs/scaling.md, "访问日志分区").

    .venv/bin/python bench/accesslog/run.py [--records 3000000] [--months 40] [--plans FILE]

A scratch PostgreSQL database (`elicense_bench_accesslog`, dropped and created again) is
migrated as a city node (410100) and filled with synthetic records spread evenly over the last
`--months` months by `recorded_at` (= `occurred_at`): 200 issuers, 300 consuming agencies,
200,000 holders. Hashes are random (the chain is not verified here: this measures storage).
A fake checkpoint covers them all, as the purge requires. Printed: EXPLAIN (ANALYZE, BUFFERS)
of an issuer's "who used my licences" over one month, a holder's uses, and a seq range as the
checkpoint reads it; then the purge of the oldest month three ways.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.hostload import host_load  # noqa: E402

DB = "elicense_bench_accesslog"
ENV = {
    "DJANGO_SETTINGS_MODULE": "municipal_node.settings",
    "DJANGO_ENV": "local",
    "DEBUG": "0",
    "NODE_CODE": "410100",
    "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB}",
    "REDIS_URL": "redis://127.0.0.1:6379/13",
    "ACCESS_ARCHIVE_DIR": str(ROOT / "var" / "bench" / "accesslog-archive"),
    "LOG_LEVEL": "WARNING",
}

FILL = """
INSERT INTO access_accessrecord (request_id, seq, leaf_hash, prev_hash, record_hash,
    library_code, occurred_at, recorded_at, user_ref, username, agency_code, agency_name,
    operation, outcome, reason_code, matter_code, use_cause, identifier, type_code, issuer_code,
    source_library, holder_digest, holder_code_type, detail, origin_library, origin_id)
SELECT gen_random_uuid(), g, md5(g::text) || md5('l' || g), md5((g - 1)::text) || md5('r' || g),
    md5(g::text) || md5('r' || g), '410100', t, t, g %% 5000, 'user' || (g %% 5000),
    'A' || lpad((g %% 300)::text, 17, '0'), '应用单位 ' || (g %% 300),
    (ARRAY['query', 'verify', 'compare', 'download'])[1 + g %% 4], 'allowed', '', 'M' || (g %% 40),
    '办理业务核验证照 ' || (g %% 97), '1.2.156.3005.2.X.' || (g %% 1000000),
    'T' || lpad((g %% 500)::text, 20, '0'), 'I' || lpad((g %% 200)::text, 17, '0'), '410100',
    'hmac-sm3:' || md5('h' || (g %% 200000)), '001', '{}'::jsonb, '', NULL
FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS g,
     LATERAL (SELECT %(start)s::timestamptz + (g - %(first)s) * %(step)s * interval '1 microsecond'
              AS t) AS moment
"""


def psql(sql: str) -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-q", "-c", sql], check=True)  # noqa: S607


def setup() -> None:
    os.environ.update(ENV)
    psql(f"DROP DATABASE IF EXISTS {DB}")
    psql(f"CREATE DATABASE {DB}")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def fill(records: int, months: int) -> float:
    """`records` rows over the last `months` months, one INSERT … SELECT per month."""
    from django.db import connection
    from django.utils import timezone

    from shared.access.log import partitions
    from shared.access.models import ChainHead, Checkpoint

    now = timezone.now()
    first_month = partitions.add_months(partitions.month_of(now), -months)
    with connection.cursor() as cursor:
        for n in range(months + 1):
            cursor.execute(
                "SELECT access_log_partition_ensure(%s)", [partitions.add_months(first_month, n)]
            )
    start = partitions.month_bounds(first_month)[0]
    step = int((now - start) / timedelta(microseconds=1) // records)
    began, per_chunk = time.perf_counter(), records // months
    with connection.cursor() as cursor:
        for first in range(1, records + 1, per_chunk):
            last = min(first + per_chunk - 1, records)
            moment = start + timedelta(microseconds=step * (first - 1))
            params: dict[str, Any] = {"first": first, "last": last, "start": moment, "step": step}
            cursor.execute(FILL, params)
            print(f"  filled {last:,} / {records:,}", flush=True)
        cursor.execute("ANALYZE access_accessrecord")
    seconds = time.perf_counter() - began
    ChainHead.objects.update_or_create(pk=1, defaults={"seq": records, "record_hash": "0" * 64})
    Checkpoint.objects.create(
        tree_size=records, root_hash="0" * 64, head_hash="0" * 64, library_code="410100",
        signed_at=now, key_id="bench", public_key="", signature="",
    )  # fmt: skip
    return seconds


def explain(title: str, queryset, out) -> str:
    """EXPLAIN (ANALYZE, BUFFERS), the second of two runs (catalog and pages warm, as on a
    long-lived connection); the summary counts the partitions the plan reads."""
    queryset.explain(analyze=True, buffers=True)
    plan = queryset.explain(analyze=True, buffers=True)
    out.write(f"--- {title}\n{queryset.query}\n{plan}\n\n")
    read = set(re.findall(r" on (access_accessrecord_(?:p\d{6}|default))(?=\s|$)", plan, re.M))
    times = [line.strip() for line in plan.splitlines() if line.endswith(" ms")]
    summary = f"{title}: {len(read)} partitions read; " + "; ".join(times)
    print(summary, flush=True)
    return summary


def plans(out) -> list[str]:
    """The main reads, each once with and once without the bound that prunes."""
    from django.utils import timezone

    from shared.access.log import partitions
    from shared.access.models import AccessRecord
    from shared.access.selectors import access_log_since

    month = partitions.add_months(partitions.month_of(timezone.now()), -2)
    since, until = partitions.month_bounds(month)
    issuer = "I" + "7".zfill(17)
    holder = AccessRecord.objects.filter(recorded_at__gte=since).values("holder_digest")[0]
    base = AccessRecord.objects.filter(issuer_code=issuer)
    mine = access_log_since(base, moment=since).filter(occurred_at__lt=until)
    in_month = AccessRecord.objects.filter(recorded_at__gte=since, recorded_at__lt=until)
    seq = int(in_month.order_by("seq").values_list("seq", flat=True)[0] or 1)
    return [
        explain("issuer, one month, API (pruned)", mine.order_by("-id")[:50], out),
        explain(
            "issuer, one month, occurred_at only (no pruning)",
            base.filter(occurred_at__gte=since, occurred_at__lt=until).order_by("-id")[:50],
            out,
        ),
        explain(
            "holder, every use (no time bound)",
            AccessRecord.objects.filter(**holder).order_by("-id")[:50],
            out,
        ),
        explain(
            "holder, since a month (pruned)",
            access_log_since(AccessRecord.objects.filter(**holder), moment=since).order_by("-id")[
                :50
            ],
            out,
        ),
        explain(
            "seq range of 1000 (checkpoint, leaf_hashes)",
            AccessRecord.objects.filter(seq__gte=seq, seq__lte=seq + 999)
            .order_by("seq")
            .values_list("seq", "leaf_hash"),
            out,
        ),
    ]


def timed(cursor, sql: str, params: list) -> tuple[float, float]:
    """Seconds, and MiB of WAL written, for one statement."""
    cursor.execute("SELECT pg_current_wal_insert_lsn()")
    lsn = cursor.fetchone()[0]
    began = time.perf_counter()
    cursor.execute(sql, params)
    seconds = time.perf_counter() - began
    cursor.execute("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), %s)", [lsn])
    return seconds, float(cursor.fetchone()[0]) / 2**20


def purge_one_month() -> dict[str, float]:
    """The oldest month: DELETE of its rows (rolled back), then stubs + DETACH/DROP; then the
    next month through the application's purge (archive file included)."""
    from django.db import connection, transaction
    from django.utils import timezone

    from shared.access.log import partitions
    from shared.access.log.purge import access_purge
    from shared.access.models import PurgeRun

    month = partitions.partition_months()[0]
    start, end = partitions.month_bounds(month)
    figures: dict[str, float] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), min(seq), max(seq) FROM access_accessrecord "
            "WHERE recorded_at >= %s AND recorded_at < %s",
            [start, end],
        )
        rows, first, last = cursor.fetchone()
        figures["rows"] = rows
        with transaction.atomic():
            cursor.execute("SELECT set_config('elicense.access_purge', 'on', true)")
            figures["delete_s"], figures["delete_wal_mib"] = timed(
                cursor, "DELETE FROM access_accessrecord WHERE seq BETWEEN %s AND %s", [first, last]
            )
            transaction.set_rollback(True)
        run = PurgeRun.objects.create(before=end, requested_by="bench")
        with transaction.atomic():
            began = time.perf_counter()
            partitions.months_stub([month], run.pk)
            figures["stubs_s"] = time.perf_counter() - began
            figures["drop_s"], figures["drop_wal_mib"] = timed(
                cursor, "SELECT access_log_partition_drop(%s, 1096)", [month]
            )
    following = partitions.partition_months()[0]
    before = partitions.month_bounds(following)[1]
    if before <= timezone.now() - timedelta(days=1096):
        began = time.perf_counter()
        done = access_purge(before=before, requested_by="bench")
        figures["app_purge_s"] = time.perf_counter() - began
        figures["app_purge_rows"] = done.count
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=3_000_000)
    parser.add_argument("--months", type=int, default=40)
    parser.add_argument("--plans", default=str(ROOT / "var" / "bench" / "accesslog-plans.txt"))
    args = parser.parse_args()
    host_load("before")
    setup()
    seconds = fill(args.records, args.months)
    print(f"fill: {args.records:,} records in {seconds:.0f} s", flush=True)
    Path(args.plans).parent.mkdir(parents=True, exist_ok=True)
    with open(args.plans, "w", encoding="utf-8") as out:
        summaries = plans(out)
    print(f"plans written to {args.plans}", flush=True)
    figures = purge_one_month()
    print("purge of the oldest month: " + ", ".join(f"{k}={v:.3f}" for k, v in figures.items()))
    host_load("after")
    for line in summaries:
        print(line)


if __name__ == "__main__":
    main()
