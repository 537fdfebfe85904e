from django.apps import AppConfig


class CatalogConfig(AppConfig):
    verbose_name = "证照目录"
    name = "shared.catalog"
    label = "catalog"
    default_auto_field = "django.db.models.BigAutoField"
