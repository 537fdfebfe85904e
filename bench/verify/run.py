"""bench/verify: public QR verification through gunicorn next to a trivial endpoint of the same
stack, in the same run (issue #16 item 7: ≥ 60 % of the trivial endpoint's rate, p99 ≤ 50 ms).

    apt-get install wrk        # the load generator (C, one thread, loopback)
    .venv/bin/python bench/verify/run.py [--licences 500] [--tokens-per-licence 2] \\
        [--workers 2] [--threads 1] [--connections 4] [--rounds 6] [--seconds 5] [--json FILE]

A city node (municipal_node, PostgreSQL database `elicense_bench_verify`, dropped and created
again; Redis db 12) is seeded with licences and their QR tokens (SM2, the default `gm` suite),
then served by gunicorn. wrk (closed loop, keep-alive) alternates between `/healthz` (the
trivial endpoint: the same gunicorn, WSGI handler and middleware, no database) and
`GET /api/v1/public/verify/<token>` over every token in turn; each verify answer must be a 200
whose body says `"outcome":"valid"`. The ratio is the median of each verify round over the
/healthz round right before it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench import served  # noqa: E402
from bench.hostload import host_load  # noqa: E402

DB = "elicense_bench_verify"
ENV = {
    "DJANGO_SETTINGS_MODULE": "municipal_node.settings",
    "DJANGO_ENV": "local",
    "DEBUG": "0",  # as in production: no SQL capture on every query
    "NODE_CODE": "410100",
    "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB}",
    "REDIS_URL": "redis://127.0.0.1:6379/12",
    "FILES_ROOT": str(ROOT / "var" / "bench" / "verify-files"),
    "FILES_PUBLIC_BASE_URL": "https://zz.example.gov.cn",
    "LOG_LEVEL": "WARNING",
}
TARGET_RATIO = 0.60
TARGET_P99_MS = 50.0
# Database CPU per verify below which every worker has the codes in memory (the state refresh,
# one query per worker every VERIFY_STATUS_SECONDS, costs about a hundredth of this).
WARM_DB_CPU_MS = 0.03


def psql(sql: str) -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-q", "-c", sql], check=True)  # noqa: S607


def seed(licences: int, tokens_per_licence: int, first_scan_tokens: int) -> tuple[list, list]:
    """Licences issued through the service layer with QR tokens for each (the repeat-scan
    set), and `first_scan_tokens` more codes of the same licences (the first-scan set)."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    from bench.catalog import ONE_FIELD, food_licence_type
    from shared.accounts import services as accounts
    from shared.crypto.suites import get_suite
    from shared.crypto.tokens import sign_qr_token
    from shared.demo.data import make_uscc
    from shared.files import documents, keystore
    from shared.files.models import StatusListIndex
    from shared.licenses.issuing import license_issue
    from shared.licenses.validation import Holder

    keystore.pki_init()
    issuer_agency = accounts.agency_create(
        actor=None,
        code=make_uscc(dept="11", area="410100", body="00001001"),
        name="郑州市市场监督管理局",
        area_code="410100",
        is_issuer=True,
    )
    issuer = accounts.user_create(
        actor=None, agency=issuer_agency, username="issuer", password="x" * 12
    )
    license_type = food_licence_type(actor=issuer, surface_schema=ONE_FIELD, requires_review=False)
    today = timezone.localdate()
    tokens: list[str] = []
    issued_for: list[tuple[str, str, int]] = []
    for i in range(licences):
        lic = license_issue(
            actor=issuer,
            type_code=license_type.type_code,
            number=f"JY{i:08d}",
            holder=Holder(
                name=f"郑州豫中食品有限公司{i}",
                code=make_uscc(dept="91", area="410100", body=f"MA{i:06d}"),
                code_type="001",
            ),
            valid_from=today,
            valid_to=today + timedelta(days=365),
            mode="online",
            case_completed_at=timezone.now() - timedelta(minutes=5),
            surface={"经营者名称": f"郑州豫中食品有限公司{i}"},
        )
        version = lic.versions.get(version=lic.version)
        for _ in range(tokens_per_licence):
            issued = documents.qr_token_issue(lic=lic, version=version)
            tokens.append(issued.token)
        issued_for.append((version.identifier, lic.issuer.code, int(issued.expires_at.timestamp())))
    # Codes no worker has seen yet: the same licences, signed again (another issue time makes
    # other bytes), straight with the token key so that making thousands takes seconds.
    key = keystore.token_key_active()
    suite, private = get_suite(key.suite), keystore.private_key(key)
    indexes = dict(StatusListIndex.objects.values_list("license__identifier", "index"))
    first_scan = []
    start = int(time.time()) - first_scan_tokens - 10
    for j in range(first_scan_tokens):
        identifier, issuer, expires = issued_for[j % len(issued_for)]
        first_scan.append(
            sign_qr_token(
                suite=suite,
                key=private,
                kid=key.key_id,
                identifier=identifier,
                issuer=issuer,
                issued_at=start + j,
                expires_at=expires,
                status_index=indexes[identifier],
            )
        )
    from django.db import connections

    connections.close_all()
    return tokens, first_scan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--licences", type=int, default=500)
    parser.add_argument("--tokens-per-licence", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=1, help="threads per worker (1: sync)")
    parser.add_argument(
        "--connections", type=int, default=4, help="wrk connections (two per worker)"
    )
    parser.add_argument("--rounds", type=int, default=6, help="alternating rounds")
    parser.add_argument("--seconds", type=int, default=5, help="length of one round (s)")
    parser.add_argument("--warmup", type=int, default=5, help="seconds of each warm-up round")
    parser.add_argument("--first-scan-tokens", type=int, default=4000)
    parser.add_argument("--first-scan-seconds", type=int, default=4)
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--keep-database", action="store_true")
    args = parser.parse_args()
    served.require_wrk()
    os.environ.update(ENV)
    os.chdir(ROOT)
    psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    psql(f"CREATE DATABASE {DB}")
    tokens, first_scan = seed(args.licences, args.tokens_per_licence, args.first_scan_tokens)
    print(
        f"seeded {args.licences} licences, {len(tokens)} distinct QR tokens to scan again "
        f"and again, {len(first_scan)} to scan once",
        flush=True,
    )
    verify_file = served.write_requests([f"GET /api/v1/public/verify/{t}" for t in tokens])
    first_file = served.write_requests([f"GET /api/v1/public/verify/{t}" for t in first_scan])
    trivial_file = served.write_requests(["GET /healthz"])
    server = served.Server(
        module="municipal_node",
        workers=args.workers,
        threads=args.threads,
        env=ENV,
        database=DB,
    )
    try:
        sample = server.get_json(f"/api/v1/public/verify/{tokens[0]}")
        assert sample["outcome"] == "valid", sample
        load_before = host_load("before")

        def round_of(requests_file: Path, expect: str, seconds: int = 0) -> served.Round:
            return served.wrk_round(
                server=server,
                requests_file=requests_file,
                expect=expect,
                seconds=seconds or args.seconds,
                connections=args.connections,
            )

        # Warm up both paths: imports, connections, and each worker's cache of the codes
        # (the measured rounds are the steady state of a working set that fits in it).
        # Until the database is idle under verify load: every worker has seen every code.
        round_of(trivial_file, '"status": "ok"')
        warmup = [round_of(verify_file, '"outcome":"valid"', args.warmup)]
        while warmup[-1].db_cpu_ms > WARM_DB_CPU_MS and len(warmup) < 10:
            warmup.append(round_of(verify_file, '"outcome":"valid"', args.warmup))
        trivial, verify = [], []
        for _ in range(args.rounds):
            trivial.append(round_of(trivial_file, '"status": "ok"'))
            verify.append(round_of(verify_file, '"outcome":"valid"'))
        # A code no worker has seen: SM2 check, one indexed read of the version (the licence's
        # state is fresh from the refresh); a round short enough that no code comes twice.
        first_trivial = round_of(trivial_file, '"status": "ok"', args.first_scan_seconds)
        first = round_of(first_file, '"outcome":"valid"', args.first_scan_seconds)
        load_after = host_load("after")
    finally:
        server.stop()
        for path in (verify_file, trivial_file, first_file):
            path.unlink()
        if not args.keep_database:
            psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")

    results = {
        "server": f"gunicorn {args.workers} workers x {args.threads} threads ({server.worker_kind})",
        "load": f"wrk 1 thread, {args.connections} connections, {args.rounds} x "
        f"{args.seconds} s per endpoint, alternating",
        "licences": args.licences,
        "distinct_tokens": len(tokens),
        "warmup_rounds": [
            {"per_second": round(w.rate, 1), "db_cpu_ms_per_request": round(w.db_cpu_ms, 3)}
            for w in warmup
        ],
        "host_load_before": load_before,
        "host_load_after": load_after,
        "trivial_healthz": served.summarise(trivial),
        "verify": served.summarise(verify),
        "verify_over_trivial_paired_median": served.paired_ratio(verify, trivial),
        "first_scan": {
            "trivial_healthz": served.summarise([first_trivial]),
            "verify_codes_never_scanned": served.summarise([first]),
            "verify_over_trivial": served.paired_ratio([first], [first_trivial]),
            "codes_scanned_twice": max(0, first.requests - len(first_scan)),
        },
    }
    print(json.dumps(results, ensure_ascii=False, indent=2))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n")
    ok = (
        results["verify_over_trivial_paired_median"] >= TARGET_RATIO
        and results["verify"]["p99_ms"] <= TARGET_P99_MS
        and results["verify"]["errors"] == 0
        and results["trivial_healthz"]["errors"] == 0
    )
    print(
        f"targets (verify ≥ {TARGET_RATIO:.0%} of /healthz, p99 ≤ {TARGET_P99_MS:g} ms, "
        "no errors):",
        "met" if ok else "NOT met",
    )


if __name__ == "__main__":
    main()
