from django.contrib import admin

from shared.calendars.models import WorkdayOverride


@admin.register(WorkdayOverride)
class WorkdayOverrideAdmin(admin.ModelAdmin):
    list_display = ("day", "is_workday", "note", "updated_at")
    list_filter = ("is_workday",)
