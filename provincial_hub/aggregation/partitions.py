"""The hub's licences, versions and events, partitioned by city, then by year (issue #16).

Each of `licenses_license`, `licenses_licenseversion` and `licenses_licenseevent` is, at the
hub on PostgreSQL, LIST-partitioned by `library_code` (one partition per city of
`shared.conf.divisions.CITIES`, and a DEFAULT for anything else, e.g. the province's own
agencies), and each of those RANGE-partitioned by `created_at` (when the hub stored the row:
set once, never updated, so a row never moves) in calendar years of Asia/Shanghai, with a
DEFAULT sub-partition. A query that names the city (reconciliation, statistics per city) reads
only that city's partitions; one that also bounds `created_at` reads only those years.

What the plain tables guaranteed and a partitioned table cannot: its primary and unique keys
must contain the partition columns, so `id`, `License.identifier`, `(issuer, type, serial)`,
`LicenseVersion.identifier`, `(license, version)` and `(license, seq)` would only be unique
within a partition, and no foreign key can point at `id` alone. Each table therefore has a narrow,
plain key table (`<table>_key`: the id, the global keys, the city and the time) kept by
triggers in the same statement as the write (`key_triggers_sql`): a second row with a held key
makes the trigger's INSERT fail with a unique violation, and the writer sees the IntegrityError
it saw before. Every foreign key that pointed at one of the three tables now points at its key table,
whose id is the row's id, so integrity is kept by the database as before (the key row exists
exactly as long as the row, in the same transaction).

Known costs (docs/scaling.md): a lookup by `id` or `identifier` alone does not name a partition
and is planned over every leaf (the hub's hot lookups read the key table first and name it:
`shared.licenses.lookups`, `provincial_hub.aggregation.locator`); INSERT … ON CONFLICT cannot
see the key tables (the ingest looks the held rows up first,
`shared.federation.bulk_rows._missing`); a new foreign key to these tables in a later migration
must point at the key table (or be `db_constraint=False`).
"""

from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from shared.conf.divisions import CITIES
from shared.federation.digest_sql import DROP_TRIGGER_SQL, TRIGGER_SQL

LICENCE = "licenses_license"
VERSION = "licenses_licenseversion"
EVENT = "licenses_licenseevent"
TABLES = (LICENCE, VERSION, EVENT)
TIME_ZONE = "Asia/Shanghai"
AHEAD_YEARS = 1  # next year's partitions exist before its first row

# The key tables: their columns (copied from the row) and their unique keys.
KEYS: dict[str, tuple[str, list[tuple[str, str]]]] = {
    LICENCE: (
        "id bigint PRIMARY KEY, identifier varchar(120) NOT NULL, issuer_id bigint NOT NULL, "
        "license_type_id bigint NOT NULL, serial varchar(30) NOT NULL, "
        "library_code varchar(6) NOT NULL, created_at timestamptz NOT NULL, "
        "holder_code_digest varchar(72) NOT NULL DEFAULT ''",
        [
            ("license_key_identifier_unique", "identifier"),
            ("license_key_serial_unique", "issuer_id, license_type_id, serial"),
        ],
    ),
    VERSION: (
        "id bigint PRIMARY KEY, identifier varchar(120) NOT NULL, license_id bigint NOT NULL, "
        "version integer NOT NULL, library_code varchar(6) NOT NULL, "
        "created_at timestamptz NOT NULL",
        [
            ("version_key_identifier_unique", "identifier"),
            ("version_key_license_version_unique", "license_id, version"),
        ],
    ),
    EVENT: (
        "id bigint PRIMARY KEY, license_id bigint NOT NULL, seq integer NOT NULL, "
        "library_code varchar(6) NOT NULL, created_at timestamptz NOT NULL",
        [("event_key_seq_unique", "license_id, seq")],
    ),
}

# The key tables' plain indexes: a holder's licences are found by digest (the purpose-bound
# query, the holder's own list), then read from the partitions the rows name.
KEY_INDEXES = {LICENCE: [("license_key_holder_idx", "holder_code_digest")]}

# The indexes the hub's queries need beyond the ones Django declared (which are kept, made
# non-unique): city + time ranges for statistics and reconciliation.
EXTRA_INDEXES = {
    LICENCE: [("licenses_license_city_completed_idx", "library_code, case_completed_at")],
    VERSION: [],
    EVENT: [("licenses_licenseevent_city_time_idx", "library_code, created_at")],
}


def key_table(table: str) -> str:
    return f"{table}_key"


def key_columns(table: str) -> list[str]:
    return [c.split()[0] for c in KEYS[table][0].split(", ")]


def partitioned(table: str) -> bool:
    """Whether `table` is partitioned here (False on SQLite and at a node)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [table])
        row = cursor.fetchone()
    return row is not None and row[0] == "p"


def _q(cursor: Any, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    cursor.execute(sql, params or [])
    return cursor.fetchall() if cursor.description else []


def _create_keys(cursor: Any, table: str) -> None:
    columns, uniques = KEYS[table]
    constraints = "".join(f", CONSTRAINT {name} UNIQUE ({cols})" for name, cols in uniques)
    key = key_table(table)
    cursor.execute(f"CREATE TABLE {key} ({columns}{constraints})")
    names = ", ".join(key_columns(table))
    cursor.execute(f"INSERT INTO {key} ({names}) SELECT {names} FROM {table}")  # noqa: S608


def _repoint_foreign_keys(cursor: Any, table: str) -> None:
    """Every foreign key to `table`(id) now points at its key table (same name, same timing)."""
    rows = _q(
        cursor,
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE contype = 'f' AND confrelid = %s::regclass",
        [table],
    )
    for child, name, definition in rows:
        pointed = definition.replace(f"REFERENCES {table}(", f"REFERENCES {key_table(table)}(")
        cursor.execute(f"ALTER TABLE {child} DROP CONSTRAINT {name}")
        cursor.execute(f"ALTER TABLE {child} ADD CONSTRAINT {name} {pointed}")


def year_bounds(year: int) -> tuple[str, str]:
    return f"{year}-01-01 00:00:00+08", f"{year + 1}-01-01 00:00:00+08"


def _city_partitions(cursor: Any, table: str, years: range) -> None:
    for code in [*CITIES, "default"]:
        city = f"{table}_{code}"
        bound = "DEFAULT" if code == "default" else f"FOR VALUES IN ('{code}')"
        cursor.execute(
            f"CREATE TABLE {city} PARTITION OF {table} {bound} PARTITION BY RANGE (created_at)"
        )
        cursor.execute(f"CREATE TABLE {city}_default PARTITION OF {city} DEFAULT")
        for year in years:
            _year_partition(cursor, city, year)


def _year_partition(cursor: Any, city: str, year: int) -> bool:
    """The year's partition of one city's partition; False when it was already there."""
    name = f"{city}_y{year}"
    if _q(cursor, "SELECT to_regclass(%s)", [name])[0][0] is not None:
        return False
    low, high = year_bounds(year)
    cursor.execute(
        f"CREATE TABLE {name} PARTITION OF {city} FOR VALUES FROM ('{low}') TO ('{high}')"
    )
    return True


def _convert(cursor: Any, table: str, years: range) -> None:
    """Rebuild `table` as a partitioned table with the same columns, rows, indexes (unique ones
    made plain: the key table keeps them), foreign keys and id sequence."""
    plain = f"{table}_plain"
    cursor.execute(f"ALTER TABLE {table} RENAME TO {plain}")
    old_seq = _q(cursor, "SELECT pg_get_serial_sequence(%s, 'id')", [plain])[0][0]
    cursor.execute(f"ALTER SEQUENCE {old_seq} RENAME TO {plain}_id_seq")
    cursor.execute(
        f"CREATE TABLE {table} (LIKE {plain} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
        "INCLUDING STORAGE) PARTITION BY LIST (library_code)"
    )
    cursor.execute(f"CREATE SEQUENCE {table}_id_seq OWNED BY {table}.id")
    last, called = _q(cursor, f"SELECT last_value, is_called FROM {plain}_id_seq")[0]  # noqa: S608
    cursor.execute("SELECT setval(%s, %s, %s)", [f"{table}_id_seq", last, called])
    cursor.execute(f"ALTER TABLE {table} ALTER COLUMN id SET DEFAULT nextval('{table}_id_seq')")
    _city_partitions(cursor, table, years)
    cursor.execute(f"INSERT INTO {table} SELECT * FROM {plain}")  # noqa: S608
    indexes = _q(
        cursor,
        "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = %s::regclass "
        "AND NOT indisprimary",
        [plain],
    )
    foreign = _q(
        cursor,
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE contype = 'f' AND conrelid = %s::regclass",
        [plain],
    )
    cursor.execute(f"DROP TABLE {plain}")
    cursor.execute(
        f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY (id, library_code, created_at)"
    )
    for (definition,) in indexes:
        cursor.execute(
            definition.replace("CREATE UNIQUE INDEX", "CREATE INDEX")
            .replace(f" ON public.{plain} ", f" ON public.{table} ")
            .replace(f" ON {plain} ", f" ON {table} ")
        )
    for name, columns in EXTRA_INDEXES[table]:
        cursor.execute(f"CREATE INDEX {name} ON {table} ({columns})")
    for name, definition in foreign:
        cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")


def key_triggers_sql(table: str) -> str:
    """The triggers that keep `table`'s key table in the same statement as the write.

    Inserts and updates are kept per statement, from the statement's transition table: one
    set-based statement for a COPY or a multi-row INSERT of any size (per row, the PL/pgSQL
    call and the one-row INSERT cost ingest ~10 % of its rate); an update writes only the key
    rows that differ or are missing. Missing: an UPDATE that moves a row to another partition
    (its city or year changed) is a DELETE and an INSERT for the row triggers — the key row is
    deleted — but fires only the UPDATE statement triggers, which put it back. Deletes are kept
    per row. Replaces the per-row trigger of the first version (`_keep_key`)."""
    key, columns = key_table(table), key_columns(table)
    names = ", ".join(columns)
    fresh = ", ".join(f"n.{c}" for c in columns)
    held = ", ".join(f"k.{c}" for c in columns)
    sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c != "id")
    return f"""
DROP TRIGGER IF EXISTS {table}_keep_key ON {table};
DROP FUNCTION IF EXISTS {table}_keep_key();
CREATE OR REPLACE FUNCTION {table}_key_add() RETURNS trigger AS $$
BEGIN
  INSERT INTO {key} ({names}) SELECT {names} FROM added;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE OR REPLACE FUNCTION {table}_key_sync() RETURNS trigger AS $$
BEGIN
  INSERT INTO {key} ({names})
    SELECT {fresh} FROM changed n LEFT JOIN {key} k ON k.id = n.id
    WHERE k.id IS NULL OR ({held}) IS DISTINCT FROM ({fresh})
  ON CONFLICT (id) DO UPDATE SET {sets};
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE OR REPLACE FUNCTION {table}_key_remove() RETURNS trigger AS $$
BEGIN
  DELETE FROM {key} WHERE id = OLD.id;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS {table}_key_add ON {table};
CREATE TRIGGER {table}_key_add AFTER INSERT ON {table}
  REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION {table}_key_add();
DROP TRIGGER IF EXISTS {table}_key_sync ON {table};
CREATE TRIGGER {table}_key_sync AFTER UPDATE ON {table}
  REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION {table}_key_sync();
DROP TRIGGER IF EXISTS {table}_key_remove ON {table};
CREATE TRIGGER {table}_key_remove AFTER DELETE ON {table}
  FOR EACH ROW EXECUTE FUNCTION {table}_key_remove();
"""  # noqa: S608 - the module's own table names


def holder_keys(schema_editor: Any) -> None:
    """Migration 0006: the licence key table learns each row's holder digest (a key table made
    by 0004 from this module already has the column; the index and triggers are made here)."""
    if schema_editor.connection.vendor != "postgresql" or not partitioned(LICENCE):
        return
    key = key_table(LICENCE)
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            f"ALTER TABLE {key} ADD COLUMN IF NOT EXISTS "
            "holder_code_digest varchar(72) NOT NULL DEFAULT ''"
        )
        cursor.execute(
            f"UPDATE {key} k SET holder_code_digest = l.holder_code_digest "  # noqa: S608
            f"FROM {LICENCE} l WHERE l.id = k.id AND k.holder_code_digest <> l.holder_code_digest"
        )
        for name, columns in KEY_INDEXES[LICENCE]:
            cursor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {key} ({columns})")
        cursor.execute(key_triggers_sql(LICENCE))


def key_triggers(schema_editor: Any) -> None:
    """(Re)create the key triggers of the three tables where they are partitioned."""
    if schema_editor.connection.vendor != "postgresql" or not partitioned(LICENCE):
        return
    with schema_editor.connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(key_triggers_sql(table))


def first_year(cursor: Any) -> int:
    """The earliest year that holds rows (this year on an empty database)."""
    this = timezone.localdate().year
    row = _q(
        cursor,
        f"SELECT min(extract(year FROM created_at AT TIME ZONE '{TIME_ZONE}'))::int FROM {LICENCE}",  # noqa: S608
    )
    return min(row[0][0] or this, this)


def partition_tables(schema_editor: Any) -> None:
    """The migration's forward step: PostgreSQL only (SQLite, the demo, keeps plain tables)."""
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        years = range(first_year(cursor), timezone.localdate().year + AHEAD_YEARS + 1)
        cursor.execute(DROP_TRIGGER_SQL)  # it names the row type of the table being replaced
        for table in TABLES:
            _create_keys(cursor, table)
        for table in TABLES:
            _repoint_foreign_keys(cursor, table)
        for table in TABLES:
            _convert(cursor, table, years)
            cursor.execute(key_triggers_sql(table))
        cursor.execute(TRIGGER_SQL)


def ensure_years(*, since: int | None = None, ahead: int = AHEAD_YEARS) -> list[str]:
    """Create the yearly partitions missing from `since` (default: this year) to `ahead` years
    after this one, for every city of every table; returns the names created. Fails (and
    creates nothing) when a city's DEFAULT sub-partition already holds rows of such a year:
    those rows must be moved out first (docs/scaling.md)."""
    if not partitioned(LICENCE):
        return []
    this = timezone.localdate().year
    created = []
    with transaction.atomic(), connection.cursor() as cursor:
        for table in TABLES:
            for code in [*CITIES, "default"]:
                for year in range(since or this, this + ahead + 1):
                    if _year_partition(cursor, f"{table}_{code}", year):
                        created.append(f"{table}_{code}_y{year}")
    return created


def leaf_partition(table: str, row_id: int) -> str:
    """The partition that holds row `row_id` of `table` (tests and operators)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT tableoid::regclass::text FROM {table} WHERE id = %s", [row_id])  # noqa: S608
        return cursor.fetchone()[0]
