from django.contrib import admin

from provincial_hub.watch.models import WatchHit
from shared.access.admin import ReadOnlyAdmin


@admin.register(WatchHit)
class WatchHitAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "watch", "kind", "source", "identifier", "library_code")
    list_filter = ("kind", "library_code")
