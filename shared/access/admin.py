"""Operator views: the log is read-only here; grants and bulk requests change through services."""

from django.contrib import admin

from shared.access.models import (
    AccessRecord,
    AnonymousCount,
    BulkRequest,
    Checkpoint,
    Grant,
    PurgeRun,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AccessRecord)
class AccessRecordAdmin(ReadOnlyAdmin):
    list_display = (
        "seq",
        "occurred_at",
        "agency_name",
        "username",
        "operation",
        "outcome",
        "matter_code",
        "identifier",
    )
    list_filter = ("operation", "outcome")
    search_fields = ("identifier", "agency_code", "matter_code", "username")


@admin.register(Checkpoint)
class CheckpointAdmin(ReadOnlyAdmin):
    list_display = ("tree_size", "root_hash", "signed_at", "key_id")


@admin.register(PurgeRun)
class PurgeRunAdmin(ReadOnlyAdmin):
    list_display = ("pk", "before", "state", "first_seq", "last_seq", "count", "archive_path")


@admin.register(Grant)
class GrantAdmin(ReadOnlyAdmin):
    list_display = ("agency", "license_type", "matter_code", "tier", "valid_from", "valid_to")
    list_filter = ("tier",)


@admin.register(BulkRequest)
class BulkRequestAdmin(ReadOnlyAdmin):
    list_display = ("pk", "agency", "issuer", "state", "rows_done", "rows_total", "attempts")
    list_filter = ("state",)


@admin.register(AnonymousCount)
class AnonymousCountAdmin(ReadOnlyAdmin):
    list_display = ("minute", "kind", "count", "limited")
    list_filter = ("kind",)
