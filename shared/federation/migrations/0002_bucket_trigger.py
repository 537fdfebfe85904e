"""PostgreSQL: keep bucket digests in step with every change to the licence table."""

from django.db import migrations

from shared.federation.digest_sql import DROP_TRIGGER_SQL, TRIGGER_SQL


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRIGGER_SQL)


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_TRIGGER_SQL)


class Migration(migrations.Migration):
    dependencies = [
        ("federation", "0001_initial"),
        ("licenses", "0001_initial"),
        ("catalog", "0001_initial"),
        ("accounts", "0001_initial"),
    ]

    operations = [migrations.RunPython(install, uninstall)]
