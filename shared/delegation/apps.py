from django.apps import AppConfig


class DelegationConfig(AppConfig):
    name = "shared.delegation"
    label = "delegation"
    verbose_name = "法人授权经办人"
    default_auto_field = "django.db.models.BigAutoField"
