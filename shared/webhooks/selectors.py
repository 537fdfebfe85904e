"""Reads: which subscriptions and events a user may see."""

from django.db.models import QuerySet

from shared.accounts.models import User
from shared.webhooks.models import Subscription, WebhookEvent


def subscription_list(*, user: User) -> QuerySet[Subscription]:
    """Live subscriptions: the library administrator sees all, a consumer its agency's."""
    subs = Subscription.objects.filter(deleted_at=None).select_related("agency", "license")
    if not getattr(user, "is_authenticated", False):
        return subs.none()
    if user.is_library_admin:
        return subs
    if user.agency_id is None or user.is_holder:
        return subs.none()
    return subs.filter(agency_id=user.agency_id)


def webhook_event_list(*, user: User, state: str | None = None) -> QuerySet[WebhookEvent]:
    """Events with their subscription, newest first; a consumer sees its agency's only."""
    events = WebhookEvent.objects.select_related("subscription", "subscription__agency")
    if state:
        events = events.filter(state=state)
    if not getattr(user, "is_authenticated", False):
        return events.none()
    if user.is_library_admin:
        return events
    if user.agency_id is None or user.is_holder:
        return events.none()
    return events.filter(subscription__agency_id=user.agency_id)
