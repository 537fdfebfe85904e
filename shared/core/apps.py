from django.apps import AppConfig


class CoreConfig(AppConfig):
    verbose_name = "基础设施"
    name = "shared.core"
    label = "core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Every app wires its receivers this way: `receivers.connect()` here, and nowhere
        # else (the convention, and the one for queueing tasks: `shared.core.effects`).
        from shared.core import receivers

        receivers.connect()
