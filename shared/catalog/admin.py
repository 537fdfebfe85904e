"""The catalogue in the admin: edits go through the catalogue services (publish rules, the
outbox row the hub learns from, the audit row); publishing and retiring are actions. Entries
are registered by the issuing agencies through the API and never deleted."""

from django.contrib import admin

from shared.audit.admin_services import ServiceAdmin
from shared.catalog import services
from shared.catalog.models import LicenseType


@admin.register(LicenseType)
class LicenseTypeAdmin(ServiceAdmin):
    list_display = ("type_code", "name", "issuer", "state", "requires_review", "holder_category")
    list_filter = ("state", "requires_review", "holder_category")
    search_fields = ("type_code", "name")
    readonly_fields = (
        "type_code",
        "issuer",
        "state",
        "published_at",
        "retired_at",
        "created_at",
        "updated_at",
    )
    actions = ["publish", "retire"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change) -> None:
        fields = {k: form.cleaned_data[k] for k in form.changed_data if k in services.EDITABLE}
        if fields:
            services.license_type_update(actor=request.user, license_type=obj, **fields)

    @admin.action(description="发布所选证照类型", permissions=["change"])
    def publish(self, request, queryset) -> None:
        self.run_each(
            request,
            queryset,
            lambda t: services.license_type_publish(actor=request.user, license_type=t),
            "已发布 {count} 个证照类型",
        )

    @admin.action(description="停用所选证照类型", permissions=["change"])
    def retire(self, request, queryset) -> None:
        self.run_each(
            request,
            queryset,
            lambda t: services.license_type_retire(actor=request.user, license_type=t),
            "已停用 {count} 个证照类型",
        )
