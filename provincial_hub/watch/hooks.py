"""The hub's holder watch joins the protocol and the feeds it matches (issue #14 item 5)."""

from provincial_hub.watch import matching, registry
from shared.access.log import appended_listener_register, sequenced_listener_register
from shared.federation.apply import HANDLERS
from shared.federation.ingest import applied_listener_register
from shared.licenses.signals import license_changed
from shared.watch.wire import CANCEL_KIND, SUBSCRIBE_KIND


def register() -> None:
    HANDLERS[SUBSCRIBE_KIND] = registry.apply_watch_subscribe
    HANDLERS[CANCEL_KIND] = registry.apply_watch_cancel
    applied_listener_register(matching.events_applied)
    sequenced_listener_register(matching.records_sequenced)
    appended_listener_register(matching.records_appended)
    license_changed.connect(matching.licence_changed, dispatch_uid="hub_watch.licence_changed")
