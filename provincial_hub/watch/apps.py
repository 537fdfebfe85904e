from django.apps import AppConfig


class HubWatchConfig(AppConfig):
    """持证人监视 at the hub (issue #14 item 5): the watches the cities register, matched
    against every licence issued or changed and every access record in the province."""

    name = "provincial_hub.watch"
    label = "hub_watch"
    verbose_name = "持证人监视（省级匹配）"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from provincial_hub.watch import hooks

        hooks.register()
