from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo seeding (`seed_demo`): installed at both tiers for the command, imported by no app
    (the library's code never depends on the demo; the layers contract checks it)."""

    name = "shared.demo"
    label = "demo"
    verbose_name = "演示数据"
    default_auto_field = "django.db.models.BigAutoField"
