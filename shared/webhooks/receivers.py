"""What the webhooks app listens to: a new `LicenseEvent` → one `WebhookEvent` per live
subscription, in the transaction that writes the licence event. Wired by
`WebhooksConfig.ready()` (see `shared.core.effects`).

Why `post_save` of `LicenseEvent` and not `license_changed`: the issuing library's changes
send `license_changed`, but the hub's copies of a city's licences change through the
federation's apply path (`shared.federation.apply`), which writes the city's `LicenseEvent`
rows without that signal. A consumer that used a city licence at the hub subscribes there, so
both paths must count. A duplicate event delivered twice by the exchange is not created twice
(`get_or_create`), so it makes no second webhook event either. The bulk apply (`COPY`) of
whole-history backfills sends no signal and makes no webhook events, on purpose: it replays
history, it is no news.
"""

from typing import Any

from django.db.models.signals import post_save

from shared.licenses.models import LicenseEvent
from shared.webhooks.deliveries import webhook_events_for_change


def events_for_change(sender: Any, instance: LicenseEvent, created: bool, **kwargs: Any) -> None:
    if created:
        webhook_events_for_change(license=instance.license, event=instance)


def connect() -> None:
    post_save.connect(events_for_change, sender=LicenseEvent, dispatch_uid="webhooks.events")
