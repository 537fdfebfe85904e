"""bench/query/served.py: purpose-bound queries through gunicorn next to a one-row DRF read on
the same stack, in the same run (issue #16 item 8: ≥ 40 % of that read's rate, p99 ≤ 50 ms).

    apt-get install wrk        # the load generator (C, one thread, loopback)
    .venv/bin/python bench/query/served.py [--workers 2] [--threads 1] [--connections 4] \\
        [--rounds 6] [--seconds 5] [--json FILE]

A city node (database `elicense_bench_query_served`, dropped and created again) is seeded as
bench/query/run.py seeds it (200 legal-person licences, a consumer agency with a grant), then
served by gunicorn. wrk alternates between the consumer's `GET /api/v1/catalog/types/<code>/`
(Bearer authentication, one row, DRF serialiser: the baseline) and `POST /api/v1/share/query/`
naming a holder, the matter and a cause (authentication, grant check, holder-digest lookup,
rate limits, one access record appended, serialisation), over all 200 holders in turn. Every
query must answer 200 with the licence (`"count":1`). Access logging is on, as production
requires.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

DB = "elicense_bench_query_served"
ENV = {
    "DJANGO_SETTINGS_MODULE": "municipal_node.settings",
    "DJANGO_ENV": "local",
    "DEBUG": "0",
    "NODE_CODE": "410100",
    "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB}",
    "REDIS_URL": "redis://127.0.0.1:6379/12",
    "FILES_ROOT": str(ROOT / "var" / "bench" / "query-files"),
    "LOG_LEVEL": "WARNING",
    # One consumer asks thousands of times a second: the per-user limits would refuse it.
    "ACCESS_RATE_PER_MINUTE": "100000000",
    "ACCESS_MISS_PER_MINUTE": "100000000",
}
os.environ.update(ENV)

from bench import served  # noqa: E402
from bench.hostload import host_load  # noqa: E402
from bench.query.run import setup  # noqa: E402

TARGET_RATIO = 0.40
TARGET_P99_MS = 50.0


def psql(sql: str) -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-q", "-c", sql], check=True)  # noqa: S607


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=1, help="threads per worker (1: sync)")
    parser.add_argument(
        "--connections", type=int, default=4, help="wrk connections (two per worker)"
    )
    parser.add_argument("--rounds", type=int, default=6, help="alternating rounds")
    parser.add_argument("--seconds", type=int, default=5, help="length of one round (s)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    served.require_wrk()
    os.chdir(ROOT)
    psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    psql(f"CREATE DATABASE {DB}")
    world = setup()
    from django.db import connections

    from shared.access.models import AccessRecord
    from shared.catalog.models import LicenseType

    type_code = LicenseType.objects.get().type_code
    before = AccessRecord.objects.count()
    connections.close_all()
    queries = served.write_requests(
        [
            "POST /api/v1/share/query/ "
            + json.dumps(
                {
                    "holder": {"code": code, "code_type": "001"},
                    "matter_code": "M0001",
                    "use_cause": "办理食品经营许可变更，核验原证",
                },
                ensure_ascii=False,
            )
            for code in world["holders"]
        ]
    )
    reads = served.write_requests([f"GET /api/v1/catalog/types/{type_code}/"])
    server = served.Server(
        module="municipal_node", workers=args.workers, threads=args.threads, env=ENV, database=DB
    )
    auth = f"Bearer {world['token']}"
    try:
        load_before = host_load("before")

        def round_of(requests_file: Path, expect: str) -> served.Round:
            return served.wrk_round(
                server=server,
                requests_file=requests_file,
                expect=expect,
                seconds=args.seconds,
                connections=args.connections,
                auth=auth,
            )

        round_of(reads, f'"type_code":"{type_code}"')  # warm up both paths
        round_of(queries, '"count":1')
        read, query = [], []
        for _ in range(args.rounds):
            read.append(round_of(reads, f'"type_code":"{type_code}"'))
            query.append(round_of(queries, '"count":1'))
        load_after = host_load("after")
        logged = AccessRecord.objects.count() - before
        connections.close_all()
    finally:
        server.stop()
        for path in (queries, reads):
            path.unlink()
        psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")

    results = {
        "server": f"gunicorn {args.workers} workers x {args.threads} threads ({server.worker_kind})",
        "load": f"wrk 1 thread, {args.connections} connections, {args.rounds} x "
        f"{args.seconds} s per endpoint, alternating",
        "host_load_before": load_before,
        "host_load_after": load_after,
        "one_row_read": served.summarise(read),
        "purpose_bound_query": served.summarise(query),
        "query_over_read_paired_median": served.paired_ratio(query, read),
        "access_records_appended": logged,
    }
    print(json.dumps(results, ensure_ascii=False, indent=2))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n")
    ok = (
        results["query_over_read_paired_median"] >= TARGET_RATIO
        and results["purpose_bound_query"]["p99_ms"] <= TARGET_P99_MS
        and results["purpose_bound_query"]["errors"] == 0
        and results["one_row_read"]["errors"] == 0
    )
    print(
        f"targets (query ≥ {TARGET_RATIO:.0%} of the one-row read, p99 ≤ {TARGET_P99_MS:g} ms, "
        "no errors):",
        "met" if ok else "NOT met",
    )


if __name__ == "__main__":
    main()
