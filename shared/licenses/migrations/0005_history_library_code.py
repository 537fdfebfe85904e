"""Versions and events carry their licence's city (the hub partitions them by it)."""

from django.db import migrations, models

FILL_SQL = [
    "UPDATE licenses_licenseversion v SET library_code = l.library_code "
    "FROM licenses_license l WHERE l.id = v.license_id AND v.library_code = ''",
    "UPDATE licenses_licenseevent e SET library_code = l.library_code "
    "FROM licenses_license l WHERE l.id = e.license_id AND e.library_code = ''",
]


def fill(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        # SQLite (the demo) has no UPDATE … FROM before 3.33: a correlated subquery instead.
        for table in ("licenses_licenseversion", "licenses_licenseevent"):
            schema_editor.execute(
                f"UPDATE {table} SET library_code = (SELECT l.library_code FROM "  # noqa: S608
                f"licenses_license l WHERE l.id = {table}.license_id) WHERE library_code = ''"
            )
        return
    for sql in FILL_SQL:
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [
        ("licenses", "0004_holder_digest_versioned"),
    ]

    operations = [
        migrations.AddField(
            model_name="licenseevent",
            name="library_code",
            field=models.CharField(blank=True, default="", max_length=6, verbose_name="所属证照库"),
        ),
        migrations.AddField(
            model_name="licenseversion",
            name="library_code",
            field=models.CharField(blank=True, default="", max_length=6, verbose_name="所属证照库"),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
