from django.apps import AppConfig


class AccountsConfig(AppConfig):
    verbose_name = "单位与用户"
    name = "shared.accounts"
    label = "accounts"
    default_auto_field = "django.db.models.BigAutoField"
