from django.apps import AppConfig


class FederationConfig(AppConfig):
    name = "shared.federation"
    label = "federation"
    verbose_name = "汇聚与交换"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from shared.federation import receivers

        receivers.connect()
