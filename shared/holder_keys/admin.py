from django.contrib import admin

from shared.holder_keys.models import HolderKeyRetirement, HolderKeyRotation


@admin.register(HolderKeyRotation)
class HolderKeyRotationAdmin(admin.ModelAdmin):
    """Read-only: runs are started with `holder_keys rotate`, never edited by hand."""

    list_display = ["id", "to_version", "state", "rewritten", "total", "failed", "passes"]
    list_display += ["started_at", "finished_at"]
    readonly_fields = [f.name for f in HolderKeyRotation._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(HolderKeyRetirement)
class HolderKeyRetirementAdmin(admin.ModelAdmin):
    list_display = ["version", "reason", "retired_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
