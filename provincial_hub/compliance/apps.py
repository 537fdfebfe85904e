from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    name = "provincial_hub.compliance"
    label = "compliance"
    verbose_name = "合规监管"
    default_auto_field = "django.db.models.BigAutoField"
