"""The audit trail in the Django admin: read-only, like the access log."""

from django.contrib import admin

from shared.audit.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ("occurred_at", "username", "action", "target_type", "target_id", "request_id")
    list_filter = ("action", "target_type")
    search_fields = ("username", "target_id", "action")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
