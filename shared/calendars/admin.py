"""The override table in the admin, through the calendar services (audited)."""

from django.contrib import admin

from shared.audit.admin_services import ServiceAdmin, adopt
from shared.calendars import services
from shared.calendars.models import WorkdayOverride


@admin.register(WorkdayOverride)
class WorkdayOverrideAdmin(ServiceAdmin):
    list_display = ("day", "is_workday", "note", "updated_at")
    list_filter = ("is_workday",)
    fields = ("day", "is_workday", "note")

    def get_readonly_fields(self, request, obj=None):
        return ("day",) if obj is not None else ()  # another day is another override

    def save_model(self, request, obj, form, change) -> None:
        row, _ = services.override_set(
            actor=request.user, day=obj.day, is_workday=obj.is_workday, note=obj.note
        )
        adopt(obj, row)

    def delete_model(self, request, obj) -> None:
        services.override_delete(actor=request.user, day=obj.day)

    def delete_queryset(self, request, queryset) -> None:
        self.run_each(
            request,
            queryset,
            lambda row: services.override_delete(actor=request.user, day=row.day),
            "已删除 {count} 条工作日调整",
        )
