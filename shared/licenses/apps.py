from django.apps import AppConfig


class LicensesConfig(AppConfig):
    verbose_name = "电子证照"
    name = "shared.licenses"
    label = "licenses"
    default_auto_field = "django.db.models.BigAutoField"
