"""The licence key table keeps each licence's holder digest, indexed: a holder's licences are
found there first, and the query then names their partitions (docs/scaling.md §3). PostgreSQL
only; the model state follows on every database."""

from django.db import migrations, models

from provincial_hub.aggregation.partitions import holder_keys


def forward(apps, schema_editor):
    holder_keys(schema_editor)


class Migration(migrations.Migration):
    dependencies = [("aggregation", "0005_key_triggers_by_statement")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(forward, migrations.RunPython.noop)],
            state_operations=[
                migrations.AddField(
                    model_name="licencekey",
                    name="holder_code_digest",
                    field=models.CharField(default="", max_length=72),
                ),
                migrations.AddIndex(
                    model_name="licencekey",
                    index=models.Index(
                        fields=["holder_code_digest"], name="license_key_holder_idx"
                    ),
                ),
            ],
        )
    ]
