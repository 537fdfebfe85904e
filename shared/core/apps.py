from django.apps import AppConfig


class CoreConfig(AppConfig):
    verbose_name = "基础设施"
    name = "shared.core"
    label = "core"
    default_auto_field = "django.db.models.BigAutoField"
