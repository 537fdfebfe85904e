from django.apps import AppConfig


class UplinkConfig(AppConfig):
    """What only a city node does: send its changes, files and access-log checkpoints up to
    the hub, and answer the hub's resend and file requests."""

    name = "municipal_node.uplink"
    label = "uplink"
    verbose_name = "向省级库汇聚"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from municipal_node.uplink import hooks

        hooks.register()
