"""PostgreSQL: the access log is append-only for every role the application uses.

- A trigger refuses UPDATE and DELETE on the log tables. The one UPDATE allowed is the
  sequencer's: a row without `seq` gets `seq`, `prev_hash` and `record_hash` once, content
  unchanged. The one DELETE allowed is `access_log_purge()`, which re-checks the retention
  period (≥ 1,096 days) in the database itself.
- Production also REVOKEs UPDATE/DELETE/TRUNCATE from the application role (see
  docs/access-log.md and `manage.py node access_log_grants`).

SQLite (the demo) has no triggers here; chain verification still detects tampering there.
"""

from django.db import migrations

CONTENT = (
    "request_id, leaf_hash, library_code, occurred_at, user_ref, username, agency_code, "
    "agency_name, operation, outcome, reason_code, matter_code, use_cause, identifier, "
    "type_code, issuer_code, source_library, holder_digest, holder_code_type, detail"
)


def _row(prefix: str) -> str:
    return "ROW(" + ", ".join(f"{prefix}.{c.strip()}" for c in CONTENT.split(",")) + ")"


FORWARD = f"""
CREATE OR REPLACE FUNCTION access_log_guard() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'access log is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

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

CREATE TRIGGER access_record_append_only BEFORE UPDATE OR DELETE ON access_accessrecord
    FOR EACH ROW EXECUTE FUNCTION access_record_guard();
CREATE TRIGGER access_checkpoint_append_only BEFORE UPDATE OR DELETE ON access_checkpoint
    FOR EACH ROW EXECUTE FUNCTION access_log_guard();
CREATE TRIGGER access_leafstub_append_only BEFORE UPDATE OR DELETE ON access_leafstub
    FOR EACH ROW EXECUTE FUNCTION access_log_guard();
CREATE TRIGGER access_witness_append_only BEFORE UPDATE OR DELETE ON access_witness
    FOR EACH ROW EXECUTE FUNCTION access_log_guard();

CREATE OR REPLACE FUNCTION access_log_purge(first_seq bigint, last_seq bigint, keep_days int)
RETURNS bigint AS $$
DECLARE
    removed bigint;
BEGIN
    IF keep_days < 1096 THEN
        RAISE EXCEPTION 'retention must be at least 1096 days' USING ERRCODE = 'check_violation';
    END IF;
    IF EXISTS (SELECT 1 FROM access_accessrecord
               WHERE seq BETWEEN first_seq AND last_seq
                 AND occurred_at > now() - make_interval(days => keep_days)) THEN
        RAISE EXCEPTION 'access records younger than % days cannot be purged', keep_days
            USING ERRCODE = 'check_violation';
    END IF;
    IF (SELECT count(*) FROM access_leafstub WHERE seq BETWEEN first_seq AND last_seq)
       <> last_seq - first_seq + 1 THEN
        RAISE EXCEPTION 'purge needs the hash stubs of every removed record'
            USING ERRCODE = 'check_violation';
    END IF;
    PERFORM set_config('elicense.access_purge', 'on', true);
    DELETE FROM access_accessrecord WHERE seq BETWEEN first_seq AND last_seq;
    GET DIAGNOSTICS removed = ROW_COUNT;
    PERFORM set_config('elicense.access_purge', 'off', true);
    RETURN removed;
END;
$$ LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp;
"""

BACKWARD = """
DROP TRIGGER IF EXISTS access_record_append_only ON access_accessrecord;
DROP TRIGGER IF EXISTS access_checkpoint_append_only ON access_checkpoint;
DROP TRIGGER IF EXISTS access_leafstub_append_only ON access_leafstub;
DROP TRIGGER IF EXISTS access_witness_append_only ON access_witness;
DROP FUNCTION IF EXISTS access_log_purge(bigint, bigint, int);
DROP FUNCTION IF EXISTS access_log_guard();
DROP FUNCTION IF EXISTS access_record_guard();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:  # no params: '%' is literal
            cursor.execute(FORWARD)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("access", "0001_initial")]

    operations = [migrations.RunPython(forward, backward)]
