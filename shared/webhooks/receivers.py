"""What the webhooks app listens to: `license_changed` → one `WebhookEvent` per live
subscription, in the licence change's own transaction. Wired by `WebhooksConfig.ready()` (see
`shared.core.effects`)."""

from typing import Any

from shared.licenses.signals import license_changed
from shared.webhooks.services import webhook_events_for_change


def events_for_change(sender: Any, license: Any, event: Any, **kwargs: Any) -> None:
    webhook_events_for_change(license=license, event=event)


def connect() -> None:
    license_changed.connect(events_for_change, dispatch_uid="webhooks.events")
