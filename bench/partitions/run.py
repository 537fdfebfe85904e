"""bench/partitions: the hub's partitioned licence tables at province scale — partition pruning
and index use of the main queries, as `EXPLAIN (ANALYZE, BUFFERS)` prints them.

    .venv/bin/python bench/partitions/run.py [--licences 10000000] [--keep]

Needs PostgreSQL at 127.0.0.1:5432 (user postgres). The database elicense_partbench is dropped and
created again, migrated with the hub's settings (so the tables are partitioned exactly as the
migration does it), given yearly partitions from 2019, 18 cities × 10 issuing agencies × 2
types, then `--licences` licences, one version and one event each, spread over the cities by
population share and uniformly over 2019-01-01 … 2026-12-31 (`created_at`). The rows are loaded
with INSERT … SELECT generate_series with the triggers off (`session_replication_role =
replica`) and the secondary indexes built after the load; the key tables are then filled from
the loaded rows, as the triggers would have (the reconciliation buckets are not built: no query
here reads them). ANALYZE, then the queries. The database is dropped at the end unless --keep;
--explain-only runs the queries again on a kept database (e.g. once the host is quiet).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
NAME = "elicense_partbench"
URL = f"postgres://postgres@127.0.0.1:5432/{NAME}"
os.environ["DATABASE_URL"] = URL
os.environ["DJANGO_SETTINGS_MODULE"] = "provincial_hub.settings"
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("VAR_DIR", "/tmp/bench-partitions")

from bench.hostload import host_load  # noqa: E402

TABLES = ("licenses_license", "licenses_licenseversion", "licenses_licenseevent")
AGENCIES, TYPES = 10, 2
# Share of the province's licences per city, ‰ (≈ resident population, 2020 census).
SHARE = {
    "410100": 128, "410200": 49, "410300": 72, "410400": 50, "410500": 55, "410600": 16,
    "410700": 63, "410800": 36, "410900": 38, "411000": 44, "411100": 24, "411200": 21,
    "411300": 98, "411400": 79, "411500": 63, "411600": 91, "411700": 71, "419001": 2,
}  # fmt: skip
START, SECONDS = "2019-01-01 00:00:00+08", 8 * 365 * 86400


def admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(URL.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(sql)


def step(label: str, started: float) -> float:
    now = time.monotonic()
    print(f"  {label}: {now - started:.1f} s", flush=True)
    return now


def setup() -> None:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from provincial_hub.aggregation.partitions import ensure_years

    ensure_years(since=2019)
    from shared.accounts.models import Agency
    from shared.catalog.models import LicenseType

    Agency.objects.bulk_create(
        Agency(code=agency(c, a), name=f"{c}签发单位{a}", area_code=c, is_issuer=True)
        for c in SHARE
        for a in range(AGENCIES)
    )
    by_code = {x.code: x for x in Agency.objects.all()}
    LicenseType.objects.bulk_create(
        LicenseType(
            type_code=f"11{c}{a:03d}{t:02d}0000000X"[:18] + f"{t + 1:03d}",
            name=f"证照类型{c}-{a}-{t}",
            definer_name="定义机构",
            definer_code="11100000000000131E",
            definer_level="national",
            issuer=by_code[agency(c, a)],
            issuer_level="city",
            holder_category="legal",
            state="published",
        )
        for c in SHARE
        for a in range(AGENCIES)
        for t in range(TYPES)
    )


def agency(city: str, n: int) -> str:
    return f"11{city}1{n:07d}X"[:18]


# The licence columns the queries read, as SQL over g (the licence's number), d (its time) and
# t (its type, agency and city); the other columns take their empty value.
LICENCE_VALUES = {
    "identifier": "'1.2.156.3005.2.' || t.type_code || '.' || t.acode || '.' || g || '.001.X'",
    "license_type_id": "t.id",
    "issuer_id": "t.aid",
    "serial": "g::text",
    "version": "1",
    "number": "'N' || g",
    "status": "(ARRAY['valid','valid','valid','expired','revoked'])[1 + g %% 5]",
    "holder_name": "'持证主体' || g",
    "holder_code_enc": "decode(md5(g::text), 'hex')",
    "holder_code_digest": "'sm3:' || md5('h' || (g %% %(holders)s))",  # ~3 licences a holder
    "holder_code_type": "'001'",
    "issue_date": "d::date",
    "valid_from": "d::date",
    "area_code": "t.city",
    "mode": "'online'",
    "case_completed_at": "d",
    "content_digest": "md5(g::text)",
    "library_code": "t.city",
    "last_event_seq": "1",
    "created_at": "d",
    "updated_at": "d",
}
EMPTY = {
    "CharField": "''",
    "BooleanField": "false",
    "JSONField": "'{}'::jsonb",
    "PositiveIntegerField": "0",
    "BinaryField": "''::bytea",
}
SLOT = "(g * 104729) %% 1000"  # the licence's place in 0‥999, which the cities share out


def licence_insert() -> str:
    from shared.licenses.models import License

    columns, values = ["id"], ["nextval('licenses_license_id_seq')"]
    for field in License._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(field.column)
        values.append(
            LICENCE_VALUES.get(field.column)
            or ("NULL" if field.null else EMPTY[field.get_internal_type()])
        )
    return (
        f"INSERT INTO licenses_license ({', '.join(columns)}) SELECT {', '.join(values)} "
        "FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) g "
        f"CROSS JOIN LATERAL (SELECT timestamptz '{START}' + ((g * 7919) %% {SECONDS}) "
        "* interval '1 second' AS d) dd "
        f"JOIN bench_slots s ON s.slot = {SLOT} "
        "JOIN bench_types t ON t.city = s.city AND t.n = 1 + g %% s.per"
    )


def type_table(cursor) -> None:
    """bench_types: the types numbered within their city; bench_slots: 0‥999 shared out over
    the cities by SHARE."""
    cursor.execute(
        "CREATE UNLOGGED TABLE bench_types AS SELECT t.id, t.type_code, a.id AS aid, "
        "a.code AS acode, a.area_code AS city, row_number() OVER (PARTITION BY a.area_code "
        "ORDER BY t.id) AS n FROM catalog_licensetype t "
        "JOIN accounts_agency a ON a.id = t.issuer_id"
    )
    cursor.execute("CREATE UNLOGGED TABLE bench_slots (slot int, city text, per int)")
    lo = 0
    for city, share in SHARE.items():
        cursor.execute(
            "INSERT INTO bench_slots SELECT s, %s, (SELECT count(*) FROM bench_types "
            "WHERE city = %s) FROM generate_series(%s::int, %s::int) s",
            [city, city, lo, lo + share - 1],
        )
        lo += share
    cursor.execute("ANALYZE bench_types")
    cursor.execute("ANALYZE bench_slots")


def drop_indexes(cursor) -> list[str]:
    """The secondary indexes of the three tables, dropped (built again after the load)."""
    cursor.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary",
        [list(TABLES)],
    )
    found = cursor.fetchall()
    for name, _ in found:
        cursor.execute(f"DROP INDEX {name}")
    return [definition for _, definition in found]


def load(licences: int) -> None:
    import psycopg

    batch = 1_000_000
    with psycopg.connect(URL, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("SET session_replication_role = replica")  # no triggers, no FK checks
        cur.execute("SET maintenance_work_mem = '1GB'")
        type_table(cur)
        insert = licence_insert()
        indexes = drop_indexes(cur)
        started = time.monotonic()
        for lo in range(1, licences + 1, batch):
            hi = min(lo + batch - 1, licences)
            cur.execute(insert, {"lo": lo, "hi": hi, "holders": max(licences // 3, 1)})
            started = step(f"licences {hi:,}", started)
        load_history(cur)
        started = step("versions and events", started)
        for definition in indexes:  # on the parent: "ON ONLY" would skip the partitions
            cur.execute(definition.replace(" ON ONLY ", " ON "))
        started = step(f"{len(indexes)} indexes", started)
        load_keys(cur)
        started = step("key tables", started)
        cur.execute("DROP TABLE bench_types, bench_slots")
        cur.execute("VACUUM ANALYZE")
        step("vacuum analyze", started)


VERSION_INSERT = (
    "INSERT INTO licenses_licenseversion (id, license_id, version, identifier, number, "
    "holder_name, holder_code_enc, holder_code_digest, holder_code_type, issue_date, valid_from, "
    "matter_code, surface, previous_identifier, content_digest, library_code, created_at) "
    "SELECT nextval('licenses_licenseversion_id_seq'), id, 1, identifier, number, holder_name, "
    "holder_code_enc, holder_code_digest, holder_code_type, issue_date, valid_from, '', "
    "'{}'::jsonb, '', content_digest, library_code, created_at FROM licenses_license "
    "WHERE id BETWEEN %s AND %s"
)
EVENT_INSERT = (
    "INSERT INTO licenses_licenseevent (id, license_id, seq, action, from_status, to_status, "
    "version, identifier, reason, data, actor_agency_code, library_code, created_at) "
    "SELECT nextval('licenses_licenseevent_id_seq'), id, 1, 'issue', '', 'valid', 1, "
    "identifier, '', '{}'::jsonb, '', library_code, created_at FROM licenses_license "
    "WHERE id BETWEEN %s AND %s"
)


def load_history(cur) -> None:
    """One version and one event a licence, with its city and time."""
    cur.execute("SELECT min(id), max(id) FROM licenses_license")
    first, last = cur.fetchone()
    for lo in range(first, last + 1, 2_000_000):
        for sql in (VERSION_INSERT, EVENT_INSERT):
            cur.execute(sql, [lo, lo + 1_999_999])


def load_keys(cur) -> None:
    """The key tables, as the triggers keep them."""
    from provincial_hub.aggregation.partitions import key_columns, key_table

    for table in TABLES:
        names = ", ".join(key_columns(table))
        cur.execute(f"INSERT INTO {key_table(table)} ({names}) SELECT {names} FROM {table}")


def sample(cur) -> dict:
    """One licence of 洛阳 from 2024, and what the queries look it up by."""
    cur.execute(
        "SELECT id, identifier, library_code, holder_code_digest, issuer_id, license_type_id, "
        "serial FROM licenses_license_410300_y2024 ORDER BY id LIMIT 1 OFFSET 100"
    )
    names = ["id", "identifier", "city", "digest", "issuer", "type", "serial"]
    found = dict(zip(names, cur.fetchone(), strict=True))
    # where the holder's licences are, as `provincial_hub.aggregation.locator` reads it
    cur.execute(HOLDER_SPREAD, found)
    found["cities"], found["first"], found["last"] = cur.fetchone()
    return found


HOLDER_SPREAD = (
    "SELECT array_agg(DISTINCT library_code ORDER BY library_code), min(created_at), "
    "max(created_at) FROM licenses_license_key WHERE holder_code_digest = ANY(ARRAY[%(digest)s])"
)


QUERIES = [
    (
        "verify: a licence by identifier (no city given)",
        "SELECT * FROM licenses_license WHERE identifier = %(identifier)s",
    ),
    (
        "verify: the same, routed by the key table (city and time of the row)",
        "SELECT l.* FROM licenses_license_key k JOIN licenses_license l ON l.id = k.id "
        "AND l.library_code = k.library_code AND l.created_at = k.created_at "
        "WHERE k.identifier = %(identifier)s",
    ),
    (
        "verify: a version by identifier",
        "SELECT * FROM licenses_licenseversion WHERE identifier = %(identifier)s",
    ),
    (
        "query: a holder's licences (digest + code type)",
        "SELECT id, identifier, status FROM licenses_license "
        "WHERE holder_code_digest = %(digest)s AND holder_code_type = '001'",
    ),
    ("query: the holder's cities and span, from the key table", HOLDER_SPREAD),
    (
        "query: a holder's licences, narrowed to those cities and span",
        "SELECT id, identifier, status FROM licenses_license "
        "WHERE holder_code_digest = %(digest)s AND holder_code_type = '001' "
        "AND library_code = ANY(%(cities)s) AND created_at BETWEEN %(first)s AND %(last)s",
    ),
    (
        "reconciliation: one city's licence by (issuer, type, serial)",
        "SELECT id FROM licenses_license WHERE library_code = %(city)s AND issuer_id = %(issuer)s "
        "AND license_type_id = %(type)s AND serial = %(serial)s",
    ),
    (
        "reconciliation: one city's released licences, counted",
        "SELECT count(*) FROM licenses_license WHERE library_code = %(city)s "
        "AND status NOT IN ('pending', 'returned')",
    ),
    (
        "statistics: one city's events of one month, by action",
        "SELECT action, count(*) FROM licenses_licenseevent WHERE library_code = %(city)s "
        "AND created_at >= '2024-03-01 00:00+08' AND created_at < '2024-04-01 00:00+08' "
        "GROUP BY action",
    ),
    (
        "statistics: one city's licences completed in one month",
        "SELECT count(*) FROM licenses_license WHERE library_code = %(city)s "
        "AND case_completed_at >= '2024-03-01 00:00+08' "
        "AND case_completed_at < '2024-04-01 00:00+08'",
    ),
    (
        "history: a licence's events in order (no city given)",
        "SELECT seq, action FROM licenses_licenseevent WHERE license_id = %(id)s ORDER BY seq",
    ),
    (
        "history: the same, with the licence's city",
        "SELECT seq, action FROM licenses_licenseevent WHERE license_id = %(id)s "
        "AND library_code = %(city)s ORDER BY seq",
    ),
    ("a licence by id (no city given)", "SELECT * FROM licenses_license WHERE id = %(id)s"),
]


def summary(plan: list[str]) -> str:
    """What the plan read: partitions scanned (of those planned), pruned at run time, buffers,
    times — the lines docs/scaling.md keeps."""
    scans = [line for line in plan if " on licenses_" in line and "Scan" in line]
    skipped = sum("(never executed)" in line for line in scans)
    removed = sum(
        int(line.split(":")[1]) for line in plan if line.strip().startswith("Subplans Removed")
    )
    top = next((line.strip() for line in plan if line.strip().startswith("Buffers")), "")
    times = [line.strip() for line in plan if line.startswith(("Planning Time", "Execution Time"))]
    return (
        f"partition scans executed {len(scans) - skipped} (planned {len(scans)}, "
        f"removed at run time {removed}); {top}; {'; '.join(times)}"
    )


def explain(licences: int) -> None:
    import psycopg

    with psycopg.connect(URL, autocommit=True) as conn, conn.cursor() as cur:
        for table in TABLES:
            cur.execute(
                "SELECT count(*) FILTER (WHERE isleaf), pg_size_pretty(sum("
                "pg_total_relation_size(relid))), pg_size_pretty(pg_total_relation_size(%s)) "
                "FROM pg_partition_tree(%s::regclass)",
                [f"{table}_key", table],
            )
            leaves, size, keys = cur.fetchone()
            print(f"{table}: {leaves} leaf partitions, {size}; its key table {keys}", flush=True)
        params = sample(cur)
        for label, sql in QUERIES:
            for _ in range(2):  # the second run is the one printed: caches warm, as in service
                cur.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
                plan = [row[0] for row in cur.fetchall()]
            print(f"\n--- {label} ({licences:,} licences)\n{sql}", flush=True)
            print("\n".join(plan), flush=True)
            print(f"=== {label}: {summary(plan)}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--licences", type=int, default=10_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--explain-only", action="store_true", help="the queries only, on a database kept before"
    )
    args = parser.parse_args()
    host_load("before")
    try:
        if not args.explain_only:
            admin(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)')
            admin(f'CREATE DATABASE "{NAME}"')
            started = time.monotonic()
            setup()
            step("migrate and agencies", started)
            load(args.licences)
        explain(args.licences)
    finally:
        host_load("after")
        if not args.keep:
            admin(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)')


if __name__ == "__main__":
    main()
