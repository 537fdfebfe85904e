"""Read-only admin views: licences change only through services, never by hand."""

from django.contrib import admin

from shared.licenses.models import Batch, BatchItem, License, LicenseEvent, LicenseVersion


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(License)
class LicenseAdmin(ReadOnlyAdmin):
    list_display = (
        "identifier",
        "number",
        "holder_name",
        "status",
        "pledged",
        "mode",
        "issue_date",
    )
    list_filter = ("status", "mode", "pledged")
    search_fields = ("identifier", "number", "holder_name")


@admin.register(LicenseVersion)
class LicenseVersionAdmin(ReadOnlyAdmin):
    list_display = ("identifier", "version", "created_at")
    search_fields = ("identifier",)


@admin.register(LicenseEvent)
class LicenseEventAdmin(ReadOnlyAdmin):
    list_display = ("identifier", "seq", "action", "from_status", "to_status", "created_at")
    list_filter = ("action",)
    search_fields = ("identifier",)


@admin.register(Batch)
class BatchAdmin(ReadOnlyAdmin):
    list_display = ("id", "issuer", "mode", "state", "total", "processed", "succeeded", "failed")
    list_filter = ("state", "mode")


@admin.register(BatchItem)
class BatchItemAdmin(ReadOnlyAdmin):
    list_display = ("batch", "index", "state", "error_code")
    list_filter = ("state",)
