"""The key tables are kept per statement on insert (a transition table), per row on the rare
update or delete (provincial_hub.aggregation.partitions.key_triggers_sql). PostgreSQL only."""

from django.db import migrations

from provincial_hub.aggregation.partitions import key_triggers


def forward(apps, schema_editor):
    key_triggers(schema_editor)


class Migration(migrations.Migration):
    dependencies = [("aggregation", "0004_partitioned_licences")]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
