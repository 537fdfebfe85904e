from django.apps import AppConfig


class StatisticsConfig(AppConfig):
    name = "shared.statistics"
    label = "statistics"
    verbose_name = "监管统计"
    default_auto_field = "django.db.models.BigAutoField"
