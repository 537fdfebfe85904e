from django.apps import AppConfig


class InspectionsConfig(AppConfig):
    name = "shared.inspections"
    label = "inspections"
    verbose_name = "网络年检"
    default_auto_field = "django.db.models.BigAutoField"
