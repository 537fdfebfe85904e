"""The hub's licences, versions and events partitioned by city, then year (PostgreSQL only).

What the plain tables guaranteed is kept by the key tables (`licenses_*_key`, the three models
below), written by triggers in the same statement as each row; every foreign key that pointed at
one of the three tables now points at its key table. See provincial_hub.aggregation.partitions
and docs/scaling.md §3. On SQLite (the demo) nothing changes in the database.

It depends on the last migration of every app with a foreign key to these tables: those keys
must exist before they are moved to the key tables.
"""

from django.db import migrations, models

from provincial_hub.aggregation.partitions import partition_tables


def forward(apps, schema_editor):
    partition_tables(schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("aggregation", "0003_library_trust"),
        ("licenses", "0005_history_library_code"),
        ("access", "0009_subscribe_operation"),
        ("files", "0003_signing_key_revocation_trust_cache"),
        ("inspections", "0002_changed_index"),
        ("notifications", "0001_initial"),
        ("reviews", "0002_changed_index"),
        ("webhooks", "0001_initial"),
        ("federation", "0010_outbox_request_id"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            # the tables are created by `forward`, on PostgreSQL only
            database_operations=[migrations.RunPython(forward, migrations.RunPython.noop)],
            state_operations=[
                migrations.CreateModel(
                    name="LicenceEventKey",
                    fields=[
                        ("id", models.BigIntegerField(primary_key=True, serialize=False)),
                        ("license_id", models.BigIntegerField()),
                        ("seq", models.IntegerField()),
                        ("library_code", models.CharField(max_length=6)),
                        ("created_at", models.DateTimeField()),
                    ],
                    options={
                        "db_table": "licenses_licenseevent_key",
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("license_id", "seq"), name="event_key_seq_unique"
                            )
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="LicenceKey",
                    fields=[
                        ("id", models.BigIntegerField(primary_key=True, serialize=False)),
                        ("identifier", models.CharField(max_length=120)),
                        ("issuer_id", models.BigIntegerField()),
                        ("license_type_id", models.BigIntegerField()),
                        ("serial", models.CharField(max_length=30)),
                        ("library_code", models.CharField(max_length=6)),
                        ("created_at", models.DateTimeField()),
                    ],
                    options={
                        "db_table": "licenses_license_key",
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("identifier",), name="license_key_identifier_unique"
                            ),
                            models.UniqueConstraint(
                                fields=("issuer_id", "license_type_id", "serial"),
                                name="license_key_serial_unique",
                            ),
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="LicenceVersionKey",
                    fields=[
                        ("id", models.BigIntegerField(primary_key=True, serialize=False)),
                        ("identifier", models.CharField(max_length=120)),
                        ("license_id", models.BigIntegerField()),
                        ("version", models.IntegerField()),
                        ("library_code", models.CharField(max_length=6)),
                        ("created_at", models.DateTimeField()),
                    ],
                    options={
                        "db_table": "licenses_licenseversion_key",
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("identifier",), name="version_key_identifier_unique"
                            ),
                            models.UniqueConstraint(
                                fields=("license_id", "version"),
                                name="version_key_license_version_unique",
                            ),
                        ],
                    },
                ),
            ],
        ),
    ]
