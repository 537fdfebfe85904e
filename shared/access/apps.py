from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "shared.access"
    label = "access"
    verbose_name = "共享与用证记录"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from shared.access import receivers, registry

        receivers.connect()
        registry.register()  # the holder check at issuing (art. 25)
