"""PostgreSQL: the bucket digests kept by three statement-level triggers over transition tables
(shared.federation.digest_sql) instead of one row-level trigger: a COPY of 200 licences at the
hub is one set-based pass. TRIGGER_SQL drops the row-level trigger and its functions first."""

from django.db import migrations

from shared.federation.digest_sql import TRIGGER_SQL


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRIGGER_SQL)


class Migration(migrations.Migration):
    dependencies = [("federation", "0010_outbox_request_id")]

    # Backwards: the statement-level triggers keep the same digests; nothing to undo.
    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
