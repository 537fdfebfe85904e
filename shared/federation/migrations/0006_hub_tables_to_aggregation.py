"""SectorLibrary and RemoteFile moved to the hub's `aggregation` app (issue #11).

State only: the tables keep their names (`db_table` in `provincial_hub.aggregation.models`), so
a hub database keeps its rows; at a node they stay empty, left by 0001 and 0003."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("federation", "0005_ownership_quarantine"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="SectorLibrary"),
                migrations.DeleteModel(name="RemoteFile"),
            ],
            database_operations=[],
        ),
    ]
