from django.apps import AppConfig


class AggregationConfig(AppConfig):
    """What only the province does: aggregate the cities (arrivals are recorded by the shared
    ingest), fetch their files, witness their access logs, drive reconciliation, and answer
    for the sector libraries."""

    name = "provincial_hub.aggregation"
    label = "aggregation"
    verbose_name = "省级汇聚"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from provincial_hub.aggregation import hooks

        hooks.register()
