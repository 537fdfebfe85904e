"""What an operator sees of the holder watch (no plaintext holder codes: the digest only)."""

from django.contrib import admin

from shared.access.admin import ReadOnlyAdmin
from shared.watch.models import Watch, WatchAlert


@admin.register(Watch)
class WatchAdmin(ReadOnlyAdmin):
    list_display = ("id", "home_library", "holder_code_type", "state", "since", "cancelled_at")
    list_filter = ("state", "home_library")
    exclude = ("holder_code_enc",)


@admin.register(WatchAlert)
class WatchAlertAdmin(ReadOnlyAdmin):
    list_display = ("occurred_at", "kind", "identifier", "library_code", "issuer_name", "origin_id")
    list_filter = ("kind", "library_code")
