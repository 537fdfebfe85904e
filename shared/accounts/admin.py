from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from shared.accounts.models import Agency, ApiToken, User


@admin.register(Agency)
class AgencyAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "kind", "level", "is_issuer", "is_consumer", "active")
    list_filter = ("kind", "level", "is_issuer", "is_consumer", "active")
    search_fields = ("code", "name")


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "display_name", "agency", "role", "is_active")
    list_filter = ("role", "is_active")
    fieldsets = (
        *BaseUserAdmin.fieldsets,  # type: ignore[misc]  # Django's UserAdmin sets them (the stubs say optional)
        ("单位与角色", {"fields": ("agency", "role", "display_name")}),
    )


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "name", "user", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "digest", "created_at", "last_used_at")
