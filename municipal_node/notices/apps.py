from django.apps import AppConfig


class NoticesConfig(AppConfig):
    name = "municipal_node.notices"
    label = "notices"
    verbose_name = "整改通知"
    default_auto_field = "django.db.models.BigAutoField"
