from django.apps import AppConfig


class FederationConfig(AppConfig):
    name = "shared.federation"
    label = "federation"
    verbose_name = "汇聚与交换"
    default_auto_field = "django.db.models.BigAutoField"
