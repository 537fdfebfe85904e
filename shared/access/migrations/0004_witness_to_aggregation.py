"""Witness moved to the hub's `aggregation` app (issue #11).

State only: the table keeps its name and its append-only trigger (0002), so a hub database
keeps its rows; at a node it stays empty, left by 0001."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("access", "0003_anonymous_count"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="Witness")],
            database_operations=[],
        ),
    ]
