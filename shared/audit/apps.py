from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "shared.audit"
    label = "audit"
    verbose_name = "管理审计"
    default_auto_field = "django.db.models.BigAutoField"
