"""Operator views: read-only (subscriptions change through the API's services; the secret is
never shown)."""

from django.contrib import admin

from shared.webhooks.models import DeliveryAttempt, Subscription, WebhookEvent


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyAdmin):
    list_display = ("id", "agency", "identifier", "matter_code", "target_url", "signing")
    list_filter = ("signing",)
    exclude = ("secret",)


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = ("event_id", "type", "state", "attempts", "next_attempt_at", "last_error")
    list_filter = ("state", "type")


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(ReadOnlyAdmin):
    list_display = ("event", "number", "started_at", "status_code", "duration_ms", "succeeded")
