"""bench/query: purpose-bound queries per second with access logging on and off, in one run,
and how fast the access log appends and sequences.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/elicense_bench_query \\
        .venv/bin/python bench/query/run.py [--queries 2000] [--clients 4] [--records 20000] \\
        [--processes 2] [--threads 8]

The database named by DATABASE_URL is dropped and created again. Queries go through the whole
Django/DRF stack in-process (Bearer authentication, grant check, holder-digest lookup,
serialisation); "logging off" skips only the access-record INSERT (ACCESS_LOG_ENABLED=False,
which production refuses). On and off alternate in rounds so drift hits both alike.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "municipal_node.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/elicense_bench_query")
os.environ.setdefault("NODE_CODE", "410100")
os.environ.setdefault("DEBUG", "0")  # as in production: no SQL capture on every query
os.environ.setdefault("ACCESS_RATE_PER_MINUTE", "100000000")
os.environ.setdefault("ACCESS_MISS_PER_MINUTE", "100000000")
os.environ.setdefault("ACCESS_CHECKPOINT_EVERY", "0")  # the bench sequences explicitly


def recreate_database(url: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def setup() -> dict:
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    from bench.catalog import ONE_FIELD, food_licence_type
    from shared.access.models import Grant
    from shared.accounts import services as accounts
    from shared.demo.data import make_uscc
    from shared.licenses.issuing import license_issue
    from shared.licenses.validation import Holder

    def agency(name: str, body: str, **flags):  # type: ignore[no-untyped-def]
        return accounts.agency_create(
            actor=None,
            code=make_uscc(dept="11", area="410100", body=body),
            name=name,
            area_code="410100",
            **flags,
        )

    issuer_agency = agency("市场监督管理局", "00001001", is_issuer=True)
    consumer_agency = agency("政务服务中心", "00002001", is_consumer=True)
    issuer = accounts.user_create(
        actor=None, agency=issuer_agency, username="issuer", password="x" * 12
    )
    consumer = accounts.user_create(
        actor=None, agency=consumer_agency, username="consumer", password="x" * 12
    )
    license_type = food_licence_type(actor=issuer, surface_schema=ONE_FIELD, requires_review=False)
    Grant.objects.create(
        agency=consumer_agency,
        license_type=license_type,
        matter_code="M0001",
        tier="city",
        valid_from=timezone.localdate(),
    )
    holders = []
    today = timezone.localdate()
    for i in range(200):
        code = make_uscc(dept="91", area="410100", body=f"MA{i:06d}")
        holders.append(code)
        license_issue(
            actor=issuer,
            type_code=license_type.type_code,
            number=f"JY{i:06d}",
            holder=Holder(name=f"企业{i}", code=code, code_type="001"),
            valid_from=today,
            valid_to=today + timedelta(days=365),
            mode="online",
            case_completed_at=timezone.now() - timedelta(minutes=5),
            surface={"经营者名称": f"企业{i}"},
        )
    _, secret = accounts.token_issue(actor=None, user=consumer, name="bench")
    return {"token": secret, "holders": holders, "consumer": consumer}


def query_rate(world: dict, n: int, *, logging_on: bool, clients: int) -> float:
    """Queries per second over `clients` threads, each with its own connection (as the web
    server's workers would have), through the whole Django/DRF stack."""
    from django.db import connections
    from django.test import Client, override_settings

    holders = world["holders"]
    per_client = max(1, n // clients)
    errors: list[str] = []

    def work(offset: int) -> None:
        client = Client(HTTP_AUTHORIZATION=f"Bearer {world['token']}")
        for i in range(per_client):
            body = {
                "holder": {"code": holders[(offset + i) % len(holders)], "code_type": "001"},
                "matter_code": "M0001",
                "use_cause": "办理食品经营许可变更，核验原证",
            }
            response = client.post("/api/v1/share/query/", body, content_type="application/json")
            if response.status_code != 200 or response.json()["count"] != 1:
                errors.append(f"{response.status_code} {response.content[:200]!r}")
                return
        connections.close_all()

    with override_settings(ACCESS_LOG_ENABLED=logging_on):
        threads = [threading.Thread(target=work, args=(k * 37,)) for k in range(clients)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - start
    if errors:
        raise SystemExit(f"unexpected answer: {errors[0]}")
    return per_client * clients / elapsed


def append_rate(world: dict, n: int, *, processes: int, threads: int, batch: int = 1) -> float:
    """Access records appended per second: `processes` × `threads` writers (as web-server
    workers would be), each access one `access_record` call (one INSERT, one commit), or
    `batch` licences per access (one multi-row INSERT, as a bulk export logs them)."""
    import multiprocessing

    from django.db import connections

    from shared.access.services import access_record

    consumer = world["consumer"]
    per_thread = max(1, n // (processes * threads * batch))
    licences = [
        {"identifier": f"bench-{i}", "type_code": "T", "issuer_code": "I"} for i in range(batch)
    ]

    def thread_work() -> None:
        for i in range(per_thread):
            access_record(
                user=consumer,
                operation="verify",
                matter_code="M0001",
                use_cause=f"核验 {i}",
                licenses=licences if batch > 1 else [],
                outcome="none",
            )
        connections.close_all()

    def process_work() -> None:
        workers = [threading.Thread(target=thread_work) for _ in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()

    connections.close_all()  # children must not share the parent's socket
    context = multiprocessing.get_context("fork")
    children = [context.Process(target=process_work) for _ in range(processes)]
    start = time.perf_counter()
    for child in children:
        child.start()
    for child in children:
        child.join()
    elapsed = time.perf_counter() - start
    if any(child.exitcode for child in children):
        raise SystemExit("an appending process failed")
    return per_thread * threads * processes * batch / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=2000, help="queries per mode")
    parser.add_argument("--rounds", type=int, default=8, help="alternating on/off rounds")
    parser.add_argument("--clients", type=int, default=4, help="concurrent query clients")
    parser.add_argument("--records", type=int, default=20000, help="records to append")
    parser.add_argument("--processes", type=int, default=2, help="appending processes")
    parser.add_argument("--threads", type=int, default=8, help="appending threads per process")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()

    recreate_database(os.environ["DATABASE_URL"])
    world = setup()
    from shared.access import log
    from shared.access.models import AccessRecord

    query_rate(world, 100, logging_on=True, clients=args.clients)  # warm up both paths
    query_rate(world, 100, logging_on=False, clients=args.clients)
    per_round = max(1, args.queries // args.rounds)
    on, off = [], []
    for _ in range(args.rounds):
        on.append(query_rate(world, per_round, logging_on=True, clients=args.clients))
        off.append(query_rate(world, per_round, logging_on=False, clients=args.clients))
    logged_on, logged_off = statistics.median(on), statistics.median(off)

    single = append_rate(world, args.records // 10, processes=1, threads=1)
    threaded = append_rate(world, args.records, processes=args.processes, threads=args.threads)
    batched = append_rate(
        world, args.records, processes=args.processes, threads=args.threads, batch=20
    )
    pending = AccessRecord.objects.filter(seq__isnull=True).count()
    start = time.perf_counter()
    sequenced = 0
    while True:
        step = log.log_sequence()
        if not step:
            break
        sequenced += step
    sequence_rate = sequenced / (time.perf_counter() - start)
    start = time.perf_counter()
    cp = log.checkpoint_create()
    checkpoint_seconds = time.perf_counter() - start
    start = time.perf_counter()
    report = log.log_verify()
    verify_rate = report.checked / (time.perf_counter() - start)

    results = {
        "queries_per_second_logged": round(logged_on, 1),
        "queries_per_second_unlogged": round(logged_off, 1),
        "logged_over_unlogged": round(logged_on / logged_off, 3),
        # each round's logged rate over the unlogged rate measured right after it: drift
        # from other load on the machine cancels out pairwise
        "logged_over_unlogged_paired_median": round(
            statistics.median(a / b for a, b in zip(on, off, strict=True)), 3
        ),
        "append_records_per_second_1_thread": round(single, 1),
        "append_records_per_second_concurrent": round(threaded, 1),
        "append_writers": f"{args.processes} processes x {args.threads} threads",
        "append_records_per_second_20_per_access": round(batched, 1),
        "sequenced_records": sequenced,
        "pending_before_sequencing": pending,
        "sequence_records_per_second": round(sequence_rate, 1),
        "checkpoint_seconds": round(checkpoint_seconds, 3),
        "checkpoint_tree_size": cp.tree_size if cp else 0,
        "verify_records_per_second": round(verify_rate, 1),
        "chain_ok": report.ok,
        "rounds_logged": [round(x, 1) for x in on],
        "rounds_unlogged": [round(x, 1) for x in off],
    }
    print(json.dumps(results, ensure_ascii=False, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n")
    ok = results["logged_over_unlogged_paired_median"] >= 0.8 and threaded >= 3000 and report.ok
    print(
        "targets (logged ≥ 80% of unlogged; ≥ 3,000 records/s appended):",
        "met" if ok else "NOT met",
    )


if __name__ == "__main__":
    main()
