"""PostgreSQL: the access-record table RANGE-partitioned by month on `recorded_at` (write time).

Converted in place: the old table is renamed, a partitioned table with the same columns,
indexes and grants takes its name, the rows are copied (an old row's `recorded_at` is its
`occurred_at`), ids keep going from the same sequence value, and the old table is dropped.

- Partitions are named `access_accessrecord_pYYYYMM` and cover UTC months; a DEFAULT partition
  takes any row no month exists for, so no insert ever fails.
- `access_log_partition_ensure(month)` creates a month's partition (moving its rows out of the
  DEFAULT partition first; `access_log_partition_waiting()` lists the months with rows there);
  `access_log_partition_drop(month, keep_days)` detaches and drops a month the retention purge
  has archived, after re-checking in the database that the whole month is past retention and
  that every row of it is sequenced and has its leaf stub. All three are SECURITY DEFINER (run as the tables' owner): the application's role owns nothing.
- The append-only trigger is defined on the partitioned table, so every partition has it; the
  sequencer's one allowed UPDATE must also leave `recorded_at` as it is.

SQLite (the demo) keeps the plain table.
"""

from django.db import migrations, models
from django.db.migrations.exceptions import IrreversibleError
from django.utils import timezone

CONTENT = (
    "request_id, leaf_hash, library_code, occurred_at, user_ref, username, agency_code, "
    "agency_name, operation, outcome, reason_code, matter_code, use_cause, identifier, "
    "type_code, issuer_code, source_library, holder_digest, holder_code_type, detail, "
    "origin_library, origin_id, recorded_at"
)


def _row(prefix):
    return "ROW(" + ", ".join(f"{prefix}.{c.strip()}" for c in CONTENT.split(",")) + ")"


GUARD = f"""
CREATE OR REPLACE FUNCTION access_record_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF current_setting('elicense.access_purge', true) = 'on' THEN
            RETURN OLD;
        END IF;
    ELSIF OLD.seq IS NULL AND NEW.seq IS NOT NULL AND OLD.id = NEW.id THEN
        IF {_row("OLD")} IS NOT DISTINCT FROM {_row("NEW")} THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'access log is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""

FUNCTIONS = """
CREATE OR REPLACE FUNCTION access_log_partition_ensure(month date) RETURNS boolean AS $$
DECLARE
    lo timestamptz := date_trunc('month', month::timestamp)::timestamp AT TIME ZONE 'UTC';
    hi timestamptz := (date_trunc('month', month::timestamp) + interval '1 month')::timestamp
                      AT TIME ZONE 'UTC';
    part text := 'access_accessrecord_p' || to_char(month, 'YYYYMM');
BEGIN
    IF to_regclass(part) IS NOT NULL THEN
        RETURN false;
    END IF;
    EXECUTE format('CREATE TABLE %I (LIKE access_accessrecord INCLUDING DEFAULTS)', part);
    -- Rows written while the month had no partition wait in DEFAULT: they move to their month
    -- (the one DELETE the guard lets through besides the purge).
    PERFORM set_config('elicense.access_purge', 'on', true);
    EXECUTE format(
        'WITH moved AS (DELETE FROM access_accessrecord_default '
        'WHERE recorded_at >= $1 AND recorded_at < $2 RETURNING *) '
        'INSERT INTO %I SELECT * FROM moved', part) USING lo, hi;
    PERFORM set_config('elicense.access_purge', 'off', true);
    EXECUTE format('ALTER TABLE access_accessrecord ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                   part, lo, hi);
    RETURN true;
END;
$$ LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp SET lock_timeout = '10s';

-- The months with rows waiting in DEFAULT (the application's role may not read it directly).
CREATE OR REPLACE FUNCTION access_log_partition_waiting() RETURNS SETOF date AS $$
    SELECT DISTINCT date_trunc('month', recorded_at AT TIME ZONE 'UTC')::date
    FROM access_accessrecord_default ORDER BY 1;
$$ LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp;

CREATE OR REPLACE FUNCTION access_log_partition_drop(month date, keep_days int)
RETURNS bigint AS $$
DECLARE
    hi timestamptz := (date_trunc('month', month::timestamp) + interval '1 month')::timestamp
                      AT TIME ZONE 'UTC';
    part text := 'access_accessrecord_p' || to_char(month, 'YYYYMM');
    total bigint;
    unsequenced bigint;
    youngest timestamptz;
    unstubbed bigint;
BEGIN
    IF keep_days < 1096 THEN
        RAISE EXCEPTION 'retention must be at least 1096 days' USING ERRCODE = 'check_violation';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_inherits
                   WHERE inhparent = 'access_accessrecord'::regclass
                     AND inhrelid = to_regclass(part)) THEN
        RAISE EXCEPTION 'no access-log partition for %', to_char(month, 'YYYY-MM')
            USING ERRCODE = 'check_violation';
    END IF;
    IF hi > now() - make_interval(days => keep_days) THEN
        RAISE EXCEPTION 'month % is not wholly older than % days', to_char(month, 'YYYY-MM'),
            keep_days USING ERRCODE = 'check_violation';
    END IF;
    EXECUTE format('SELECT count(*), count(*) FILTER (WHERE seq IS NULL), max(occurred_at) '
                   'FROM %I', part) INTO total, unsequenced, youngest;
    IF unsequenced > 0 THEN
        RAISE EXCEPTION 'month % has records not yet in the chain', to_char(month, 'YYYY-MM')
            USING ERRCODE = 'check_violation';
    END IF;
    IF youngest > now() - make_interval(days => keep_days) THEN
        RAISE EXCEPTION 'access records younger than % days cannot be purged', keep_days
            USING ERRCODE = 'check_violation';
    END IF;
    EXECUTE format('SELECT count(*) FROM %I r WHERE NOT EXISTS (SELECT 1 FROM access_leafstub s '
                   'WHERE s.seq = r.seq AND s.record_hash = r.record_hash)', part)
        INTO unstubbed;
    IF unstubbed > 0 THEN
        RAISE EXCEPTION 'purge needs the hash stubs of every removed record'
            USING ERRCODE = 'check_violation';
    END IF;
    EXECUTE format('ALTER TABLE access_accessrecord DETACH PARTITION %I', part);
    EXECUTE format('DROP TABLE %I', part);
    RETURN total;
END;
$$ LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp SET lock_timeout = '10s';
"""

TRIGGER = """
CREATE TRIGGER access_record_append_only BEFORE UPDATE OR DELETE ON access_accessrecord
    FOR EACH ROW EXECUTE FUNCTION access_record_guard();
"""


def _fetch(cursor, sql, params=()):
    cursor.execute(sql, params)
    return cursor.fetchall()


def _role(name):
    return name if name == "PUBLIC" else '"' + name.replace('"', '""') + '"'


def _grants(cursor):
    """The table's grants (but the owner's) and its column grants, to give the new table."""
    table = _fetch(
        cursor,
        "SELECT grantee, privilege_type FROM information_schema.role_table_grants "
        "WHERE table_name = 'access_accessrecord' AND grantee <> current_user",
    )
    columns = _fetch(
        cursor,
        "SELECT grantee, privilege_type, column_name FROM information_schema.column_privileges"
        " WHERE table_name = 'access_accessrecord' AND grantee <> current_user",
    )
    granted = {(g, p) for g, p in table}
    statements = [f"GRANT {p} ON access_accessrecord TO {_role(g)}" for g, p in sorted(granted)]
    statements += [
        f"GRANT {p} ({c}) ON access_accessrecord TO {_role(g)}"
        for g, p, c in sorted(columns)
        if (g, p) not in granted
    ]
    statements += [
        f"GRANT USAGE ON SEQUENCE access_accessrecord_id_seq TO {_role(g)}"
        for g in sorted({g for g, p in granted if p == "INSERT"})
    ]
    return statements


def _months(cursor):
    """Every UTC month from the oldest row's to three months ahead."""
    cursor.execute(
        "SELECT generate_series(date_trunc('month', coalesce(min(occurred_at), now()) "
        "AT TIME ZONE 'UTC'), date_trunc('month', now() AT TIME ZONE 'UTC') "
        "+ interval '3 months', interval '1 month')::date FROM access_accessrecord_old"
    )
    return [row[0] for row in cursor.fetchall()]


def _old_table(cursor):
    """What the new table keeps of the old one: next id, indexes, grants, column order."""
    sequence = _fetch(cursor, "SELECT pg_get_serial_sequence('access_accessrecord', 'id')")[0][0]
    cursor.execute(f"SELECT last_value, is_called FROM {sequence}")  # noqa: S608
    last_value, is_called = cursor.fetchone()
    indexes = _fetch(
        cursor,
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
        "AND tablename = 'access_accessrecord' AND indexname <> 'access_accessrecord_pkey'",
    )
    columns = _fetch(
        cursor,
        "SELECT column_name FROM information_schema.columns WHERE table_name = "
        "'access_accessrecord' AND table_schema = current_schema() ORDER BY ordinal_position",
    )
    start = last_value + 1 if is_called else last_value
    return sequence, start, indexes, _grants(cursor), [name for (name,) in columns]


def _set_aside(cursor, sequence, indexes):
    """The old table under another name, without its id sequence, its indexes renamed."""
    cursor.execute("ALTER TABLE access_accessrecord RENAME TO access_accessrecord_old")
    cursor.execute("ALTER TABLE access_accessrecord_old ALTER COLUMN id DROP IDENTITY IF EXISTS")
    cursor.execute("ALTER TABLE access_accessrecord_old ALTER COLUMN id DROP DEFAULT")
    cursor.execute(f"DROP SEQUENCE IF EXISTS {sequence}")
    for name, _ in [("access_accessrecord_pkey", ""), *indexes]:
        cursor.execute(f"ALTER INDEX {name} RENAME TO {name[:50]}_pre0010")


def _partitioned_table(cursor, start, indexes):
    cursor.execute(f"CREATE SEQUENCE access_accessrecord_id_seq AS bigint START WITH {start}")
    cursor.execute(
        "CREATE TABLE access_accessrecord (LIKE access_accessrecord_old INCLUDING DEFAULTS) "
        "PARTITION BY RANGE (recorded_at)"
    )
    cursor.execute(
        "ALTER TABLE access_accessrecord ALTER COLUMN id "
        "SET DEFAULT nextval('access_accessrecord_id_seq')"
    )
    cursor.execute("ALTER TABLE access_accessrecord ALTER COLUMN recorded_at SET DEFAULT now()")
    cursor.execute("ALTER SEQUENCE access_accessrecord_id_seq OWNED BY access_accessrecord.id")
    cursor.execute(
        "ALTER TABLE access_accessrecord ADD CONSTRAINT access_accessrecord_pkey "
        "PRIMARY KEY (id, recorded_at)"
    )
    for _, definition in indexes:
        # A unique index must contain the partition key: these become plain indexes.
        cursor.execute(definition.replace("CREATE UNIQUE INDEX", "CREATE INDEX", 1))
    cursor.execute(
        "CREATE TABLE access_accessrecord_default PARTITION OF access_accessrecord DEFAULT"
    )


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:  # no params in DDL: '%' is literal
        cursor.execute(GUARD)
        sequence, start, indexes, grants, columns = _old_table(cursor)
        _set_aside(cursor, sequence, indexes)
        _partitioned_table(cursor, start, indexes)
        cursor.execute(FUNCTIONS)
        for month in _months(cursor):
            cursor.execute("SELECT access_log_partition_ensure(%s)", [month])
        listed = ", ".join(columns)
        copied = listed.replace("recorded_at", "occurred_at")
        cursor.execute(
            f"INSERT INTO access_accessrecord ({listed}) "  # noqa: S608
            f"SELECT {copied} FROM access_accessrecord_old"
        )
        cursor.execute("DROP TABLE access_accessrecord_old")
        cursor.execute(TRIGGER)
        for statement in grants:
            cursor.execute(statement)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        raise IrreversibleError("the partitioned access log is not converted back")


class Migration(migrations.Migration):
    dependencies = [("access", "0009_subscribe_operation")]

    operations = [
        migrations.AddField(
            model_name="accessrecord",
            name="recorded_at",
            field=models.DateTimeField(
                default=timezone.now, editable=False, verbose_name="写入时间"
            ),
        ),
        migrations.RunPython(forward, backward),
    ]
