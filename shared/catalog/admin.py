from django.contrib import admin

from shared.catalog.models import LicenseType


@admin.register(LicenseType)
class LicenseTypeAdmin(admin.ModelAdmin):
    list_display = ("type_code", "name", "issuer", "state", "requires_review", "holder_category")
    list_filter = ("state", "requires_review", "holder_category")
    search_fields = ("type_code", "name")
