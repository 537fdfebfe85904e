from django.contrib import admin

from shared.delegation.models import Delegation


@admin.register(Delegation)
class DelegationAdmin(admin.ModelAdmin):
    """Read-only: a delegation is granted and revoked by the legal person in the portal."""

    list_display = ("principal", "delegate", "expires_at", "revoked_at", "created_at")
    list_filter = ("revoked_at",)
    search_fields = ("principal__username", "delegate__username")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
