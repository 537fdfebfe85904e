"""Notifications (issue #14): an outbox of messages to users over email, SMS and a file channel,
and the producers that fill it (expiry reminders, status changes, inspections, reviews)."""

from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "shared.notifications"
    label = "notifications"
    verbose_name = "通知"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from shared.notifications import receivers

        receivers.connect()
