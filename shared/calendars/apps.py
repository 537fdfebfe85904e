from django.apps import AppConfig


class CalendarsConfig(AppConfig):
    verbose_name = "工作日历"
    name = "shared.calendars"
    label = "calendars"
    default_auto_field = "django.db.models.BigAutoField"
