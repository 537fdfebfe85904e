"""The hub's licences, versions and events: partitioned by city, then year, on PostgreSQL
(provincial_hub.aggregation.partitions), with what the plain tables guaranteed still kept."""

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from provincial_hub.aggregation.models import LicenceEventKey, LicenceKey, LicenceVersionKey
from provincial_hub.aggregation.partitions import TABLES, leaf_partition
from shared.conf.divisions import CITIES
from shared.federation import bulk_apply
from shared.federation.outbox import license_key, repair_payload
from shared.licenses.models import License, LicenseEvent, LicenseVersion
from tests.hub.test_hardening_federation import LY, City, numbered, post
from tests.support import issued_events, make_agency, make_type, make_uscc, make_user, token_client

pytestmark = pytest.mark.django_db

YEAR = timezone.localdate().year


def _rows(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


@pytest.fixture
def luoyang(db):
    return City(LY)


@pytest.fixture
def ly_events(db, issue_payload):
    """Three new 洛阳 licences as 洛阳 sends them (the hub lacks them)."""
    agency = make_agency("洛阳市市场监督管理局", body="00003001", area=LY, is_issuer=True)
    user = make_user("ly_issuer", agency)
    ly_type = make_type(user, seq=7, requires_review=False)
    bodies = [
        issue_payload(
            type_code=ly_type.type_code,
            number=f"LYP{i:06d}",
            holder={
                "name": f"洛阳持证人{i}",
                "code": make_uscc(dept="91", area="410300", body=f"PT{i:06d}"),
                "code_type": "001",
            },
        )
        for i in range(3)
    ]
    events = issued_events(token_client(user), bodies)
    for event in events:
        event["payload"]["license"]["library_code"] = LY
    return events


def _counts():
    return tuple(
        m.objects.count()
        for m in (License, LicenseVersion, LicenseEvent, LicenceKey, LicenceVersionKey)
    )


def test_the_three_tables_are_partitioned_by_city_then_year():
    for table in TABLES:
        # the table: LIST by library_code
        assert _rows(
            "SELECT p.partstrat, a.attname FROM pg_partitioned_table p JOIN pg_attribute a "
            "ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0] "
            "WHERE p.partrelid = %s::regclass",
            [table],
        ) == [("l", "library_code")]
        cities = _rows(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid), p.partstrat, a.attname "
            "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_partitioned_table p ON p.partrelid = c.oid "
            "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = p.partattrs[0] "
            "WHERE i.inhparent = %s::regclass",
            [table],
        )
        bounds = {name: bound for name, bound, _, _ in cities}
        assert len(cities) == len(CITIES) + 1  # 18 cities and a DEFAULT
        assert bounds[f"{table}_default"] == "DEFAULT"
        assert bounds[f"{table}_410100"] == "FOR VALUES IN ('410100')"
        assert {(s, c) for _, _, s, c in cities} == {("r", "created_at")}  # each RANGE by time
        years = {
            name
            for (name,) in _rows(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = %s::regclass",
                [f"{table}_410300"],
            )
        }
        assert {f"{table}_410300_default", f"{table}_410300_y{YEAR}"} <= years
        assert f"{table}_410300_y{YEAR + 1}" in years  # next year's exists ahead of time


def test_each_partition_has_the_indexes_the_queries_need():
    def indexed(leaf):
        return {
            definition.split(" USING btree ")[1]
            for (definition,) in _rows(
                "SELECT indexdef FROM pg_indexes WHERE tablename = %s", [leaf]
            )
        }

    licence = indexed(f"licenses_license_{LY}_y{YEAR}")
    assert {
        "(id, library_code, created_at)",  # the primary key, with the partition columns
        "(identifier)",  # verify
        "(holder_code_digest, holder_code_type)",  # query by holder
        "(issuer_id, license_type_id, serial)",  # ingest and reconciliation
        "(library_code, case_completed_at)",  # statistics per city and month
    } <= licence
    assert {"(identifier)", "(license_id, version)"} <= indexed(
        f"licenses_licenseversion_{LY}_y{YEAR}"
    )
    assert {"(license_id, seq)", "(library_code, created_at)"} <= indexed(
        f"licenses_licenseevent_{LY}_default"
    )


def test_every_foreign_key_points_at_a_key_table():
    pointing = dict(
        _rows(
            "SELECT confrelid::regclass::text, count(*) FROM pg_constraint WHERE contype = 'f' "
            "AND confrelid::regclass::text LIKE 'licenses_license%%' GROUP BY 1"
        )
    )
    # none at the partitioned tables; the licences' and events' key tables are referenced
    # (nothing refers to a version by id)
    assert set(pointing) == {"licenses_license_key", "licenses_licenseevent_key"}
    assert pointing["licenses_license_key"] >= 8  # versions, events, files, reviews, access…
    # and it is enforced: a version of a licence that does not exist is refused
    with pytest.raises(IntegrityError), transaction.atomic():
        _rows("SET CONSTRAINTS ALL IMMEDIATE")
        LicenseVersion.objects.create(
            license_id=987654321, version=1, identifier="X", number="N", holder_name="某",
            holder_code_enc=b"", holder_code_digest="d", holder_code_type="001",
            issue_date=timezone.localdate(), valid_from=timezone.localdate(),
            content_digest="c", library_code=LY,
        )  # fmt: skip
    _rows("SET CONSTRAINTS ALL DEFERRED")  # as Django declares them


def test_a_citys_licences_land_in_its_partition_of_the_year(anon, luoyang, ly_events):
    response = post(anon, luoyang.envelope(numbered(ly_events)))
    assert response.status_code == 200, response.json()
    assert response.json()["applied"] == 3
    for lic in License.objects.all():
        assert lic.library_code == LY
        assert leaf_partition("licenses_license", lic.pk) == f"licenses_license_{LY}_y{YEAR}"
        version, event = lic.versions.get(), lic.events.get()
        assert (version.library_code, event.library_code) == (LY, LY)
        assert leaf_partition("licenses_licenseversion", version.pk) == (
            f"licenses_licenseversion_{LY}_y{YEAR}"
        )
        assert leaf_partition("licenses_licenseevent", event.pk) == (
            f"licenses_licenseevent_{LY}_y{YEAR}"
        )
    assert _counts() == (3, 3, 3, 3, 3)


def _plan(sql, params=()):
    return "\n".join(row[0] for row in _rows(f"EXPLAIN {sql}", params))


def test_a_city_query_reads_only_that_citys_partitions():
    plan = _plan("SELECT count(*) FROM licenses_license WHERE library_code = %s", [LY])
    assert f"licenses_license_{LY}_y{YEAR}" in plan
    assert "licenses_license_410100" not in plan and "licenses_license_default" not in plan
    plan = _plan(
        "SELECT action, count(*) FROM licenses_licenseevent WHERE library_code = %s "
        "AND created_at >= %s AND created_at < %s GROUP BY action",
        [LY, f"{YEAR}-03-01 00:00+08", f"{YEAR}-04-01 00:00+08"],
    )
    assert f"licenses_licenseevent_{LY}_y{YEAR}" in plan
    assert f"_y{YEAR + 1}" not in plan and "_default" not in plan
    assert "licenses_licenseevent_410100" not in plan


def test_a_duplicate_identifier_or_key_is_still_refused_across_partitions(anon, luoyang, ly_events):
    post(anon, luoyang.envelope(numbered(ly_events)))
    lic = License.objects.order_by("pk").first()
    other = License.objects.exclude(pk=lic.pk).order_by("pk").first()
    # another city's partition, same identifier: refused by the key table
    with pytest.raises(IntegrityError), transaction.atomic():
        License.objects.filter(pk=other.pk).update(identifier=lic.identifier, library_code="410100")
    with pytest.raises(IntegrityError), transaction.atomic():
        License.objects.filter(pk=other.pk).update(serial=lic.serial)
    version = lic.versions.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        LicenseVersion.objects.create(
            **{
                f.attname: getattr(version, f.attname)
                for f in LicenseVersion._meta.concrete_fields
                if not f.primary_key
            }
            | {"version": 2, "library_code": "410100"}
        )
    event = lic.events.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        LicenseEvent.objects.create(
            license=lic, seq=event.seq, action="issue", to_status="valid", version=1,
            identifier=lic.identifier, library_code="",  # the DEFAULT partition: still refused
        )  # fmt: skip
    assert _counts() == (3, 3, 3, 3, 3)


def test_the_key_tables_follow_amends_and_deletes(anon, luoyang, ly_events):
    post(anon, luoyang.envelope(numbered(ly_events)))
    lic = License.objects.order_by("pk").first()
    License.objects.filter(pk=lic.pk).update(identifier=lic.identifier + "-2")
    assert LicenceKey.objects.get(pk=lic.pk).identifier == lic.identifier + "-2"
    LicenseEvent.objects.filter(license=lic).delete()
    LicenseVersion.objects.filter(license=lic).delete()
    License.objects.filter(pk=lic.pk).delete()
    assert not LicenceKey.objects.filter(pk=lic.pk).exists()
    assert not LicenceEventKey.objects.filter(license_id=lic.pk).exists()
    assert _counts() == (2, 2, 2, 2, 2)


def test_a_row_moved_to_another_city_keeps_its_key_row(anon, luoyang, ly_events):
    """A cross-partition UPDATE is a DELETE and an INSERT for row triggers but fires only the
    UPDATE statement triggers: the key row must come back, with the new city."""
    post(anon, luoyang.envelope(numbered(ly_events)))
    lic = License.objects.order_by("pk").first()
    License.objects.filter(pk=lic.pk).update(library_code="410100")
    assert leaf_partition("licenses_license", lic.pk) == f"licenses_license_410100_y{YEAR}"
    assert LicenceKey.objects.get(pk=lic.pk).library_code == "410100"
    LicenseVersion.objects.filter(license=lic).update(library_code="410100")
    LicenseEvent.objects.filter(license=lic).update(library_code="410100")
    assert LicenceVersionKey.objects.get(license_id=lic.pk).library_code == "410100"
    assert LicenceEventKey.objects.get(license_id=lic.pk).library_code == "410100"
    with connection.cursor() as cursor:  # the deferred foreign keys hold: checked now
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    assert _counts() == (3, 3, 3, 3, 3)


def test_ingest_asks_the_key_tables_what_is_held(anon, luoyang, ly_events):
    """New licences are inserted without asking first (bulk_apply._insert_new); when one is
    held already, the unique index of a key table refuses the attempt, and the envelope goes
    again after asking the plain key tables which are held, never the partitioned ones (which
    would plan over every leaf)."""
    with CaptureQueriesContext(connection) as ctx:
        assert post(anon, luoyang.envelope(numbered(ly_events))).json()["applied"] == 3
    reads = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith("SELECT")]
    assert not [sql for sql in reads if "licenses_license_key" in sql], reads
    # the three again under new numbers (a sender restored from an older dump resends them)
    with CaptureQueriesContext(connection) as ctx:
        again = post(anon, luoyang.envelope(numbered(ly_events, start=4))).json()
    assert again["high_water_mark"] == 6 and _counts() == (3, 3, 3, 3, 3)
    reads = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith("SELECT")]
    lookups = [sql for sql in reads if "ANY(" in sql or "unnest(" in sql]
    assert any("licenses_license_key" in sql for sql in lookups), reads
    for table in TABLES:  # (the per-event path reads the held ones by id, as always)
        assert not [sql for sql in lookups if f'FROM "{table}"' in sql or f"FROM {table} " in sql]


def test_inserts_keep_the_key_tables_once_per_statement():
    """The key tables follow inserts through one statement-level trigger each (a transition
    table), not a call per row; updates likewise; deletes per row."""
    rows = _rows(
        "SELECT tgrelid::regclass::text, tgname, tgtype & 1 = 1 FROM pg_trigger "
        "WHERE tgname LIKE '%%key%%' AND tgrelid::regclass::text = ANY(%s) ORDER BY 1, 2",
        [list(TABLES)],
    )
    assert rows == [
        (table, f"{table}_{name}", per_row)
        for table in sorted(TABLES)
        for name, per_row in (("key_add", False), ("key_remove", True), ("key_sync", False))
    ]


def test_a_duplicate_delivery_neither_doubles_nor_loses_a_record(
    anon, luoyang, ly_events, monkeypatch
):
    first = post(anon, luoyang.envelope(numbered(ly_events)))
    assert first.json()["applied"] == 3
    assert _counts() == (3, 3, 3, 3, 3)
    # the same envelope again: the cursor has it
    again = post(anon, luoyang.envelope(numbered(ly_events)))
    assert again.status_code == 200 and again.json()["applied"] == 0
    # the same licences redelivered under new numbers: one by one, each already held
    resent = post(anon, luoyang.envelope(numbered(ly_events, start=4)))
    assert resent.status_code == 200, resent.json()
    assert resent.json()["rejected"] == []
    # and as whole-licence repairs, through the bulk repair path, twice
    taken = []
    real = bulk_apply._repair

    def spy(candidates, sender):
        taken.append(real(candidates, sender))
        return taken[-1]

    monkeypatch.setattr(bulk_apply, "_repair", spy)
    repairs = [
        {"kind": "license.repair", "key": license_key(lic), "payload": repair_payload(lic)}
        for lic in License.objects.select_related("license_type", "issuer")
    ]
    for start in (7, 10):
        response = post(anon, luoyang.envelope(numbered(repairs, start=start)))
        assert response.status_code == 200, response.json()
        assert response.json()["rejected"] == []
    assert taken == [{7, 8, 9}, {10, 11, 12}]  # the fast path took them (no fallback)
    assert _counts() == (3, 3, 3, 3, 3)
    assert LicenceEventKey.objects.count() == 3


def test_the_command_adds_the_years_to_come():
    out = []

    class Sink:
        def write(self, text):
            out.append(text)

    call_command("partitions", ahead=3, stdout=Sink())
    created = [line.strip() for line in out if line.strip().startswith("licenses_")]
    assert len(created) == len(TABLES) * (len(CITIES) + 1) * 2  # two more years
    assert f"licenses_licenseevent_{LY}_y{YEAR + 3}" in created
    assert f"licenses_license_default_y{YEAR + 2}" in created
    out.clear()
    call_command("partitions", ahead=3, stdout=Sink())
    assert out[0].strip() == "created=0"  # idempotent
