"""Operator views: the log is read-only here; grants change through the grant services."""

from django.contrib import admin

from shared.access import grants
from shared.access.models import (
    AccessRecord,
    AnonymousCount,
    BulkRequest,
    Checkpoint,
    Grant,
    PurgeRun,
)
from shared.audit.admin_services import ServiceAdmin, adopt


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
class GrantAdmin(ServiceAdmin):
    """Grants are given and revoked through the grant services (rules, access log, audit);
    a grant is never edited or deleted, only revoked."""

    list_display = (
        "agency",
        "license_type",
        "matter_code",
        "tier",
        "valid_from",
        "valid_to",
        "revoked_at",
    )
    list_filter = ("tier",)
    fields = ("agency", "license_type", "matter_code", "valid_from", "valid_to")
    actions = ["revoke"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change) -> None:
        data = form.cleaned_data
        grant = grants.grant_create(
            actor=request.user,
            agency_code=data["agency"].code,
            type_code=data["license_type"].type_code,
            matter_code=data["matter_code"],
            valid_from=data.get("valid_from"),
            valid_to=data.get("valid_to"),
        )
        adopt(obj, grant)

    @admin.action(description="撤销所选授权")
    def revoke(self, request, queryset) -> None:
        self.run_each(
            request,
            queryset,
            lambda g: grants.grant_revoke(actor=request.user, grant_id=g.pk),
            "已撤销 {count} 项授权",
        )


@admin.register(BulkRequest)
class BulkRequestAdmin(ReadOnlyAdmin):
    list_display = ("pk", "agency", "issuer", "state", "rows_done", "rows_total", "attempts")
    list_filter = ("state",)


@admin.register(AnonymousCount)
class AnonymousCountAdmin(ReadOnlyAdmin):
    list_display = ("minute", "kind", "count", "limited")
    list_filter = ("kind",)
