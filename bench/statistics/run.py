"""bench/statistics: a month of a 10-million-licence province's supervision statistics, read
from the counters through the real selector and through the API, next to the naive report that
aggregates the licence events of the month, and the rollup's throughput, in one run.

    .venv/bin/python bench/statistics/run.py [--months 24] [--events 1000000] [--repeat 30] \\
        [--json var/bench/statistics.json]

Needs PostgreSQL at 127.0.0.1:5432 (user postgres); the database bench_statistics is dropped
and created again, with the hub's settings (the province). Three phases:

1. naive + rollup: `--events` licence events (4 per licence, over 12 months, every city) are
   loaded with SQL; the naive report (GROUP BY over LicenseEvent ⋈ License for one month) is
   timed, then the rollup reads them all from scratch (events/s), and its counters for that
   month are checked against the naive report's rows.
2. the province's counters: the counter table is emptied and filled by COPY with what a
   10-million-licence province produces in `--months` months (the sizes are printed).
3. the month's report by each `by=` (and by agency within one city), through
   `statistics_report` and through GET /api/v1/statistics/ (and export.csv) with Django's
   test client and a supervisor's bearer token: p50 / p95 over `--repeat` random months.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
URL = "postgres://postgres@127.0.0.1:5432/bench_statistics"
os.environ["DATABASE_URL"] = URL
os.environ["DJANGO_SETTINGS_MODULE"] = "provincial_hub.settings"
os.environ.setdefault("DEBUG", "0")  # as in production: no SQL capture on every query
os.environ.setdefault("VAR_DIR", "/tmp/bench-statistics")

from bench.hostload import host_load  # noqa: E402

SHANGHAI = ZoneInfo("Asia/Shanghai")
# The province (DESIGN §3) and a realistic shape of a 10-million-licence one: 18 cities, 40
# issuing agencies a city with 3 licence types each (2,160 types, ≈ 4,600 live licences a type,
# ≈ 170,000 issues a month); each type used every month by 8 consumer agencies for 3 matters.
CITIES = 18
AGENCIES = 40
TYPES = 3
CONSUMERS_PER_CITY = 30
CONSUMERS_PER_TYPE = 8
MATTERS_PER_TYPE = 3
EVENT_METRICS = [
    "issue",
    "approve",
    "renew",
    "amend",
    "suspend",
    "resume",
    "revoke",
    "annul",
    "cancel",
    "pledge",
    "release",
    "expire",
    "inspect",
]
REVIEW_METRICS = [
    "review_received",
    "review_confirmed",
    "review_corrected",
    "review_on_time",
    "review_late",
]
OTHER_METRICS = ["inspection_submitted", "inspection_approved", "arrival", "arrival_late"]
ACCESS_OPS = ["query", "verify", "compare"]


def recreate_database() -> None:
    import psycopg

    base, name = URL.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def cities() -> list[str]:
    from shared.conf.divisions import CITIES as NAMES

    return sorted(NAMES)[:CITIES]


def agency_code(kind: str, city: str, n: int) -> str:
    return f"11{city}{kind}{n:07d}X"[:18]


def type_code(city: str, a: int, t: int) -> str:
    return f"11{city}{a:03d}{t:02d}0000000X"[:18] + f"{t + 1:03d}"


def setup() -> str:
    """Migrate; the cities' agencies, types and a supervisor with a token (for names and the
    API); returns the token."""
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from shared.accounts import services as accounts
    from shared.accounts.models import Agency
    from shared.catalog.models import LicenseType

    agencies, consumers = [], []
    for city in cities():
        for a in range(AGENCIES):
            agencies.append(
                Agency(
                    code=agency_code("1", city, a),
                    name=f"{city}签发单位{a}",
                    area_code=city,
                    is_issuer=True,
                )
            )
        for c in range(CONSUMERS_PER_CITY):
            consumers.append(
                Agency(
                    code=agency_code("2", city, c),
                    name=f"{city}用证单位{c}",
                    area_code=city,
                    is_consumer=True,
                )
            )
    Agency.objects.bulk_create(agencies + consumers)
    by_code = {a.code: a for a in Agency.objects.all()}
    types = [
        LicenseType(
            type_code=type_code(city, a, t),
            name=f"证照类型{city}-{a}-{t}",
            definer_name="定义机构",
            definer_code="11100000000000131E",
            definer_level="national",
            issuer=by_code[agency_code("1", city, a)],
            issuer_level="city",
            holder_category="legal",
            state="published",
            related_matters=[
                {"code": f"M{t}{m:03d}", "name": f"事项{t}-{m}"} for m in range(MATTERS_PER_TYPE)
            ],
        )
        for city in cities()
        for a in range(AGENCIES)
        for t in range(TYPES)
    ]
    LicenseType.objects.bulk_create(types)
    from shared.demo.data import make_uscc

    unit = accounts.agency_create(
        actor=None,
        code=make_uscc(dept="11", area="410000", body="00009001"),
        name="河南省发展和改革委员会",
        level="province",
        area_code="410000",
    )
    user = accounts.user_create(
        actor=None, agency=unit, username="supervisor", password="x" * 12, role="supervisor"
    )
    _, secret = accounts.token_issue(actor=None, user=user, name="bench")
    return secret


# --- phase 1: the naive report and the rollup over real licence events ------------------------


def load_events(events: int) -> None:
    """`events` events, 4 per licence (issue, then three changes), spread over the 12 months of
    2025 and over every type; loaded with SQL, as a live database would hold them."""
    from django.db import connection

    from shared.licenses.models import License

    licences = events // 4
    specific = {
        "identifier": "'1.2.156.3005.2.' || t.type_code || '.' || a.code || '.' || g || '.001.X'",
        "license_type_id": "t.id",
        "issuer_id": "a.id",
        "serial": "g::text",
        "version": "1",
        "number": "'N' || g",
        "status": "'valid'",
        "holder_name": "'企业' || g",
        "holder_code_type": "'001'",
        "case_completed_at": "now()",
        "content_digest": "md5(g::text)",
        "library_code": "a.area_code",
        "last_event_seq": "4",
        "mode": "'online'",
        "area_code": "a.area_code",
    }
    defaults = {
        "CharField": "''",
        "TextField": "''",
        "BooleanField": "false",
        "JSONField": "'{}'::jsonb",
        "DateField": "current_date",
        "DateTimeField": "now()",
        "PositiveIntegerField": "0",
        "BinaryField": "''::bytea",
    }
    columns, values = [], []
    for field in License._meta.concrete_fields:
        if not field.primary_key:
            columns.append(field.column)
            values.append(
                specific.get(field.column)
                or ("NULL" if field.null else defaults[field.get_internal_type()])
            )
    with connection.cursor() as cur:
        cur.execute("ALTER TABLE licenses_license DISABLE TRIGGER federation_digest_add")
        cur.execute(
            f"INSERT INTO licenses_license ({', '.join(columns)}) "  # noqa: S608
            f"SELECT {', '.join(values)} FROM generate_series(1, %s) g "
            "JOIN (SELECT t.*, row_number() OVER (ORDER BY t.id) - 1 AS n FROM catalog_licensetype t) t "
            "ON t.n = g %% (SELECT count(*) FROM catalog_licensetype) "
            "JOIN accounts_agency a ON a.id = t.issuer_id",
            [licences],
        )
        cur.execute("ALTER TABLE licenses_license ENABLE TRIGGER federation_digest_add")
        cur.execute(
            "INSERT INTO licenses_licenseevent (license_id, seq, action, from_status, to_status, "
            "version, identifier, reason, data, actor_agency_code, created_at) "
            "SELECT l.id, s, (ARRAY['issue','suspend','resume','renew'])[s], 'valid', 'valid', 1, "
            "l.identifier, '', '{}'::jsonb, '', timestamptz '2025-01-01 00:00+08' "
            "+ ((l.id * 7 + s * 13) % 365) * interval '1 day' + ((l.id * 31 + s) % 86400) * interval '1 second' "
            "FROM licenses_license l CROSS JOIN generate_series(1, 4) s ORDER BY 11"
        )
    connection.close()
    vacuum()


def vacuum() -> None:
    import psycopg

    with psycopg.connect(URL, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def naive_report(month: date) -> dict[tuple, int]:
    """What a report without counters does: aggregate the month's licence events."""
    from django.db.models import Count

    from shared.licenses.models import LicenseEvent

    start = datetime(month.year, month.month, 1, tzinfo=SHANGHAI)
    end = (start + timedelta(days=32)).replace(day=1)
    rows = (
        LicenseEvent.objects.filter(created_at__gte=start, created_at__lt=end)
        .values_list(
            "license__library_code",
            "license__issuer__code",
            "license__license_type__type_code",
            "action",
        )
        .annotate(n=Count("id"))
        .order_by()
    )
    return {tuple(r[:4]): r[4] for r in rows}


def phase_naive_and_rollup(events: int) -> dict:
    from shared.statistics.models import Counter
    from shared.statistics.rollup import statistics_rollup

    started = time.perf_counter()
    load_events(events)
    print(f"loaded {events:,} licence events in {time.perf_counter() - started:.1f} s", flush=True)
    month = date(2025, 6, 1)
    naive_ms = []
    for _ in range(5):
        t0 = time.perf_counter()
        naive = naive_report(month)
        naive_ms.append((time.perf_counter() - t0) * 1000)
    t0 = time.perf_counter()
    read = statistics_rollup(sources=["license_event"])["license_event"]
    rollup_s = time.perf_counter() - t0
    rolled = {
        (c.library_code, c.agency_code, c.type_code, c.metric): c.count
        for c in Counter.objects.filter(month=month)
    }
    assert read == events, (read, events)
    assert rolled == naive, "the rollup's counters differ from the naive report"
    return {
        "events": events,
        "naive_month_ms_p50": statistics.median(naive_ms),
        "naive_rows": len(naive),
        "rollup_seconds": rollup_s,
        "rollup_events_per_second": events / rollup_s,
    }


# --- phase 2: the counters of a 10-million-licence province ------------------------------------


def counter_rows(months: list[date], rng: random.Random):
    """The counter rows, one (month, city, agency, type) at a time, as COPY text lines."""
    for month in months:
        m = month.isoformat()
        for city in cities():
            for a in range(AGENCIES):
                agency = agency_code("1", city, a)
                for t in range(TYPES):
                    code = type_code(city, a, t)
                    base = f"{m}\t{city}\t{agency}\t{code}\t"
                    for metric in EVENT_METRICS:
                        if rng.random() < 0.75:
                            yield f"{base}{metric}\t\t\t{rng.randint(1, 400)}\n"
                    for metric in REVIEW_METRICS + OTHER_METRICS:
                        if rng.random() < 0.6:
                            yield f"{base}{metric}\t\t\t{rng.randint(1, 40)}\n"
                    users = rng.sample(range(CONSUMERS_PER_CITY), CONSUMERS_PER_TYPE)
                    for c in users:
                        consumer = agency_code("2", city, c)
                        for matter in range(MATTERS_PER_TYPE):
                            for op in ACCESS_OPS:
                                n = rng.randint(1, 900)
                                yield f"{base}{op}\t{consumer}\tM{t}{matter:03d}\t{n}\n"
                        yield f"{base}access_refused\t{consumer}\tM{t}000\t{rng.randint(1, 5)}\n"


def phase_fill(months_back: int) -> dict:
    import psycopg

    months, day = [], date(2026, 11, 1)
    for _ in range(months_back):
        months.append(day)
        day = (day - timedelta(days=1)).replace(day=1)
    rng = random.Random(12)
    started, count, chunk = time.perf_counter(), 0, []
    with psycopg.connect(URL) as conn, conn.cursor() as cur:
        cur.execute("TRUNCATE statistics_counter")
        with cur.copy(
            "COPY statistics_counter (month, library_code, agency_code, type_code, metric, "
            "consumer_code, matter_code, count) FROM STDIN"
        ) as copy:
            for line in counter_rows(sorted(months), rng):
                chunk.append(line)
                if len(chunk) == 20000:
                    copy.write("".join(chunk))
                    count, chunk = count + len(chunk), []
            copy.write("".join(chunk))
            count += len(chunk)
    vacuum()
    per_combination = count / (len(months) * CITIES * AGENCIES * TYPES)
    print(
        f"counters: {CITIES} cities × {AGENCIES} agencies × {TYPES} types × {len(months)} months"
        f" × ≈{per_combination:.0f} rows (≈{len(EVENT_METRICS) * 0.75:.0f} event metrics, "
        f"≈{(len(REVIEW_METRICS) + len(OTHER_METRICS)) * 0.6:.0f} review/inspection/arrival, "
        f"{CONSUMERS_PER_TYPE} consumers × {MATTERS_PER_TYPE} matters × {len(ACCESS_OPS)} "
        f"operations + {CONSUMERS_PER_TYPE} refused) = {count:,} rows, "
        f"{count // len(months):,} a month; COPY in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    return {"counter_rows": count, "rows_per_month": count // len(months), "months": months}


# --- phase 3: the month's report, selector and API ---------------------------------------------


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[max(0, int(len(ordered) * 0.95 + 0.5) - 1)]


def phase_queries(token: str, months: list[date], repeat: int) -> dict:
    from django.test import Client

    from shared.accounts.models import User
    from shared.statistics.selectors import ReportQuery, statistics_report

    user = User.objects.get(username="supervisor")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    rng = random.Random(7)
    cases = [(by, {}) for by in ("city", "agency", "type", "consumer", "matter")]
    cases.append(("agency", {"city": cities()[0]}))
    results = {}
    for by, filters in cases:
        label = f"by={by}" + "".join(f" {k}={v}" for k, v in filters.items())
        selector, api, rows = [], [], 0
        statistics_report(user=user, query=ReportQuery(month=months[0], by=by, filters=filters))
        for _ in range(repeat):
            month = rng.choice(months)
            t0 = time.perf_counter()
            report = statistics_report(
                user=user, query=ReportQuery(month=month, by=by, filters=filters)
            )
            selector.append((time.perf_counter() - t0) * 1000)
            rows = len(report.rows)
            t0 = time.perf_counter()
            response = client.get(
                "/api/v1/statistics/", {"month": f"{month:%Y-%m}", "by": by, **filters}
            )
            api.append((time.perf_counter() - t0) * 1000)
            assert response.status_code == 200, response.content[:300]
        results[label] = {
            "rows": rows,
            "selector_ms": percentiles(selector),
            "api_ms": percentiles(api),
        }
        print(
            f"{label:<26} {rows:>5} rows  selector p50/p95 {results[label]['selector_ms'][0]:7.1f} /"
            f" {results[label]['selector_ms'][1]:7.1f} ms   API p50/p95 {results[label]['api_ms'][0]:7.1f}"
            f" / {results[label]['api_ms'][1]:7.1f} ms",
            flush=True,
        )
    csv_ms = []
    for _ in range(max(5, repeat // 3)):
        t0 = time.perf_counter()
        response = client.get(
            "/api/v1/statistics/export.csv",
            {"month": f"{rng.choice(months):%Y-%m}", "by": "agency"},
        )
        csv_ms.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200
    results["export.csv by=agency"] = {"api_ms": percentiles(csv_ms)}
    print(
        f"{'export.csv by=agency':<26}  API p50/p95 {percentiles(csv_ms)[0]:7.1f} / {percentiles(csv_ms)[1]:7.1f} ms"
    )
    return results


def queries_again(args: argparse.Namespace) -> None:
    import django

    django.setup()
    from shared.accounts import services as accounts
    from shared.accounts.models import User

    _, token = accounts.token_issue(
        actor=None, user=User.objects.get(username="supervisor"), name="bench"
    )
    months, day = [], date(2026, 11, 1)
    for _ in range(args.months):
        months.append(day)
        day = (day - timedelta(days=1)).replace(day=1)
    phase_queries(token, months, args.repeat)
    host_load("at end")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument(
        "--province-events",
        type=int,
        default=30_000_000,
        help="licence events a 10-million-licence province holds (extrapolation)",
    )
    parser.add_argument("--json", default="")
    parser.add_argument(
        "--queries-only",
        action="store_true",
        help="reuse the database of an earlier run and time only the month reports (phase 3)",
    )
    args = parser.parse_args()
    loads = [host_load("at start")]
    if args.queries_only:  # the database of an earlier run: time the reports again
        queries_again(args)
        return
    recreate_database()
    token = setup()
    naive = phase_naive_and_rollup(args.events)
    factor = args.province_events / args.events
    print(
        f"naive month report over {args.events:,} events: p50 {naive['naive_month_ms_p50']:.0f} ms "
        f"({naive['naive_rows']:,} rows) → × {factor:.0f} for {args.province_events:,} events ≈ "
        f"{naive['naive_month_ms_p50'] * factor / 1000:.1f} s (extrapolated, linear: no index on "
        f"the event time, the whole table is read)",
        flush=True,
    )
    print(
        f"rollup: {naive['events']:,} events in {naive['rollup_seconds']:.1f} s = "
        f"{naive['rollup_events_per_second']:,.0f} events/s; its counters equal the naive report",
        flush=True,
    )
    filled = phase_fill(args.months)
    results = phase_queries(token, filled["months"], args.repeat)
    loads.append(host_load("at end"))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "naive": naive,
            "counters": {k: v for k, v in filled.items() if k != "months"},
            "queries": results,
            "host_load": loads,
            "naive_extrapolated_s": naive["naive_month_ms_p50"] * factor / 1000,
        }
        Path(args.json).write_text(json.dumps(doc, ensure_ascii=False, indent=2, default=str))


if __name__ == "__main__":
    main()
