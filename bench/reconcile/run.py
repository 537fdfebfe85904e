"""bench/reconcile: find and repair 100 differences among 1,000,000 licences, next to a naive
full comparison of the same two databases, in the same run.

    .venv/bin/python bench/reconcile/run.py [--licences 1000000] [--differences 100]

Needs PostgreSQL at 127.0.0.1:5432 (user postgres). Builds two databases, bench_rc_node and
bench_rc_hub, holding the same licences of city 410100; then changes 100 random rows at the hub
(status, pledge, event count, deletions) and measures:
  naive   fetch every licence's digest from both sides and compare them all;
  ours    walk the bucket digests (issuer × month → 1/256 slices → licences) and descend only
          where they differ, then apply whole-licence repairs at the hub.
"""

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
PG = "postgres://postgres@127.0.0.1:5432/"


def psql(db: str, sql: str) -> None:
    subprocess.run(
        ["psql", "-q", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-c", sql], check=True
    )


def setup_django() -> None:
    os.environ["DATABASE_URL"] = PG + "bench_rc_node"
    os.environ.setdefault("NODE_CODE", "410100")
    os.environ["DJANGO_SETTINGS_MODULE"] = "municipal_node.settings"
    os.environ.setdefault("VAR_DIR", "/tmp/bench-reconcile")
    import django
    from django.conf import settings

    from shared.conf.env import database_config

    settings.DATABASES["hub"] = database_config("unused", PG + "bench_rc_hub")
    django.setup()


def build(licences: int) -> None:
    psql("postgres", "DROP DATABASE IF EXISTS bench_rc_hub WITH (FORCE)")
    psql("postgres", "DROP DATABASE IF EXISTS bench_rc_node WITH (FORCE)")
    psql("postgres", "CREATE DATABASE bench_rc_node")
    env = dict(os.environ, DATABASE_URL=PG + "bench_rc_node", NODE_CODE="410100")
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "node", "migrate", "-v", "0"],
        env=env,
        check=True,
        cwd=ROOT,
    )
    from django.db import connection

    from shared.licenses.models import License

    columns, values = [], []
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
        "case_completed_at": "timestamptz '2025-01-01' + (((g / 20) %% 12) || ' months')::interval",
        "content_digest": "md5(g::text)",
        "library_code": "'410100'",
        "last_event_seq": "1",
        "mode": "'online'",
        "area_code": "'410100'",
    }
    defaults = {
        "CharField": "''",
        "TextField": "''",
        "BooleanField": "false",
        "JSONField": "'{}'::jsonb",
        "DateField": "current_date",
        "DateTimeField": "now()",
        "PositiveIntegerField": "0",
        "IntegerField": "0",
        "BigIntegerField": "0",
        "BinaryField": "''::bytea",
    }
    for field in License._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(field.column)
        if field.column in specific:
            values.append(specific[field.column])
        elif field.null:
            values.append("NULL")
        else:
            values.append(defaults[field.get_internal_type()])
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO accounts_agency (code, name, kind, level, area_code, is_issuer, is_consumer, active, created_at, updated_at) "
            "SELECT '1141010000000' || lpad(i::text, 4, '0') || 'X', '单位' || i, 'department', 'city', '410100', true, false, true, now(), now() "
            "FROM generate_series(1, 20) i"
        )
        cur.execute(
            "INSERT INTO catalog_licensetype (type_code, name, definer_name, definer_code, definer_level, issuer_id, issuer_level, holder_category, related_matters, surface_schema, template, qr_validity_days, annual_inspection, requires_review, state, description, created_at, updated_at) "
            "SELECT '11100000000000131E' || lpad(a.id::text, 3, '0'), '类型', '定义', '11100000000000131E', 'national', a.id, 'city', 'legal', '[]', '{}', '{}', 30, false, false, 'published', '', now(), now() FROM accounts_agency a"
        )
        cur.execute("ALTER TABLE licenses_license DISABLE TRIGGER federation_digest_add")
        cur.execute(
            f"INSERT INTO licenses_license ({', '.join(columns)}) "  # noqa: S608
            f"SELECT {', '.join(values)} FROM generate_series(1, %s) g "
            "JOIN accounts_agency a ON a.id = 1 + (g %% 20) JOIN catalog_licensetype t ON t.issuer_id = a.id",
            [licences],
        )
        cur.execute("ALTER TABLE licenses_license ENABLE TRIGGER federation_digest_add")
    from shared.federation.digests import rebuild_buckets

    rebuild_buckets("410100")
    connection.close()
    # A live database is vacuumed and analysed by autovacuum; a freshly loaded one not yet.
    psql("bench_rc_node", "VACUUM ANALYZE")
    psql("postgres", "CREATE DATABASE bench_rc_hub TEMPLATE bench_rc_node")


def make_differences(count: int, seed: int = 42) -> set[str]:
    from django.db import connections

    rng = random.Random(seed)
    with connections["hub"].cursor() as cur:
        cur.execute("SELECT max(id) FROM licenses_license")
        top = cur.fetchone()[0]
        ids = rng.sample(range(1, top + 1), count)
        changed = set()
        for n, pk in enumerate(ids):
            cur.execute(
                "SELECT t.type_code || '.' || a.code || '.' || l.serial FROM licenses_license l "
                "JOIN accounts_agency a ON a.id = l.issuer_id JOIN catalog_licensetype t ON t.id = l.license_type_id WHERE l.id = %s",
                [pk],
            )
            changed.add(cur.fetchone()[0])
            if n % 4 == 0:
                cur.execute("DELETE FROM licenses_license WHERE id = %s", [pk])
            elif n % 4 == 1:
                cur.execute("UPDATE licenses_license SET status = 'revoked' WHERE id = %s", [pk])
            elif n % 4 == 2:
                cur.execute("UPDATE licenses_license SET pledged = true WHERE id = %s", [pk])
            else:
                cur.execute(
                    "UPDATE licenses_license SET last_event_seq = last_event_seq + 1 WHERE id = %s",
                    [pk],
                )
    return changed


NAIVE_SQL = (
    "SELECT t.type_code || '.' || a.code || '.' || l.serial, md5(l.identifier || '|' || l.version || '|' "
    "|| l.status || '|' || (CASE WHEN l.pledged THEN '1' ELSE '0' END) || '|' || l.last_event_seq || '|' "
    "|| l.content_digest) FROM licenses_license l JOIN accounts_agency a ON a.id = l.issuer_id "
    "JOIN catalog_licensetype t ON t.id = l.license_type_id WHERE l.library_code = '410100'"
)


def naive() -> tuple[float, int]:
    from django.db import connections

    start = time.perf_counter()
    sides = []
    for alias in ("default", "hub"):
        with connections[alias].cursor() as cur:
            cur.execute(NAIVE_SQL)
            sides.append(dict(cur.fetchall()))
    node, hub = sides
    differing = {k for k in node.keys() | hub.keys() if node.get(k) != hub.get(k)}
    return time.perf_counter() - start, len(differing)


def repair(keys: list[str]) -> int:
    """The node builds whole-licence repairs for `keys` (as `license_resend` does); the hub
    applies them as one envelope through its ingest (signature checks aside)."""
    from django.db import connections, transaction
    from django.utils import timezone

    from shared.exchange.envelopes import OpenedEnvelope
    from shared.federation import ingest
    from shared.federation.models import InboundCursor
    from shared.federation.outbox import licences_by_key, repair_payload

    found = licences_by_key(keys)
    repairs = [(k, json.dumps(repair_payload(found[k]))) for k in keys if k in found]
    default = connections["default"]
    connections["default"] = connections["hub"]  # apply at the hub, in this process
    try:
        cursor = InboundCursor.objects.filter(sender="410100").first()
        first = (cursor.high_water_mark if cursor else 0) + 1
        events = [
            {"seq": first + n, "kind": "license.repair", "key": k, "payload": json.loads(p)}
            for n, (k, p) in enumerate(repairs)
        ]
        opened = OpenedEnvelope(
            envelope_id=f"bench-{first}",
            sender="410100",
            receiver="410000",
            stream="410000",
            sent_at=timezone.now(),
            events=events,
            kid="bench",
        )
        with transaction.atomic():
            result = ingest._apply(opened, transport="bench")
        assert result.applied == len(events) and not result.rejected, result
    finally:
        connections["default"] = default
    return len(events)


def warm_up(changed: set[str]) -> None:
    """A running hub and node have walked and repaired before: run both paths once on licences
    that agree (the repair changes nothing), so the timed run does not pay first-call costs."""
    from shared.exchange.reconcile import compare
    from shared.federation.digests import DatabaseDigests
    from shared.federation.outbox import license_key
    from shared.licenses.models import License

    compare(DatabaseDigests("410100", "default"), DatabaseDigests("410100", "default"))
    same = [
        key
        for lic in License.objects.select_related("license_type", "issuer").order_by("id")[:20]
        if (key := license_key(lic)) not in changed
    ]
    repair(same[:10])


def ours() -> tuple[float, float, object]:
    from shared.exchange.reconcile import compare
    from shared.federation.digests import DatabaseDigests

    start = time.perf_counter()
    diff = compare(DatabaseDigests("410100", "default"), DatabaseDigests("410100", "hub"))
    found = time.perf_counter() - start
    start = time.perf_counter()
    repair(diff.missing_remote + diff.different)
    repaired = time.perf_counter() - start
    return found, repaired, diff


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--licences", type=int, default=1_000_000)
    parser.add_argument("--differences", type=int, default=100)
    parser.add_argument("--reuse", action="store_true", help="keep the databases of a previous run")
    args = parser.parse_args()
    setup_django()
    if not args.reuse:
        t = time.perf_counter()
        build(args.licences)
        print(
            f"built {args.licences:,} licences in each database in {time.perf_counter() - t:.1f}s"
        )
    changed = make_differences(args.differences)
    naive_s, naive_found = naive()
    warm_up(changed)
    found_s, repair_s, diff = ours()
    found = set(diff.missing_remote) | set(diff.different) | set(diff.missing_local)
    after_s, after_found = naive()
    print(f"licences: {args.licences:,}  differences made: {len(changed)}")
    print(f"naive full comparison:   {naive_s * 1000:9.1f} ms  found {naive_found}")
    print(
        f"bucket walk (find):      {found_s * 1000:9.1f} ms  found {len(found)} "
        f"(all made: {changed <= found}), buckets compared {diff.buckets_compared}, round trips {diff.round_trips}"
    )
    print(
        f"repair (build + apply):  {repair_s * 1000:9.1f} ms  for {len(diff.missing_remote) + len(diff.different)} licences"
    )
    print(f"find / naive:            {found_s / naive_s * 100:9.2f} %")
    print(
        f"find+repair / naive:     {(found_s + repair_s) / naive_s * 100:9.2f} %   (target <= 2 %)"
    )
    print(f"differences left after repair (naive check): {after_found}")


if __name__ == "__main__":
    main()
