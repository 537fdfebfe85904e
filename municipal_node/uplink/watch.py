"""The holder watch at a city (issue #14 item 5): a watch a holder makes in this city's portal
goes up to the hub (`watch.subscribe`, `watch.cancel`, in the transaction that makes the
change); the hub's `watch.alert` comes down and is stored once and told to the holder.

Applying an alert trusts nothing but the signature: only the hub sends alerts, and only about a
watch of this library (`federation.not_owner` otherwise, nothing written); a second delivery of
the same hub hit (unique origin) changes nothing; an alert for a watch cancelled meanwhile is
dropped (logged).
"""

import uuid
from typing import Any

from django.conf import settings
from django.db import transaction

from shared.core.errors import PermanentError
from shared.federation.outbox import holder_city, outbox_write
from shared.federation.ownership import NOT_OWNER, NotOwnerError
from shared.watch.federation import WatchFederation
from shared.watch.models import Watch, WatchAlert
from shared.watch.services import watch_alert_store
from shared.watch.wire import CANCEL_KIND, SUBSCRIBE_KIND, cancel_payload, subscribe_payload


class NodeWatch(WatchFederation):
    def subscribed(self, watch: Watch) -> None:
        # The hub takes a city's watch only for a holder whose code names that city: say so
        # here, before anything is written, rather than have the hub refuse it unseen.
        home = holder_city(watch.holder_code, watch.holder_code_type) or ""
        if home != settings.LIBRARY_CODE:
            raise PermanentError(
                "watch.not_home",
                "证照监视须在持证主体代码所属地市的证照库订阅",
                {"library": home},
            )
        outbox_write(
            stream=settings.FEDERATION_HUB_CODE,
            kind=SUBSCRIBE_KIND,
            key=str(watch.pk),
            payload=subscribe_payload(watch),
        )

    def cancelled(self, watch: Watch) -> None:
        outbox_write(
            stream=settings.FEDERATION_HUB_CODE,
            kind=CANCEL_KIND,
            key=str(watch.pk),
            payload=cancel_payload(watch),
        )


def _not_owner(*, sender: str, key: str, owner: str, message: str) -> NotOwnerError:
    return NotOwnerError(
        NOT_OWNER, message, {"sender": sender, "record": "watch_alert", "key": key, "owner": owner}
    )


@transaction.atomic
def apply_watch_alert(payload: dict[str, Any], *, sender: str) -> WatchAlert | None:
    """`watch.alert` from the hub about one of this library's watches."""
    alert = payload["alert"]
    hub, here = settings.FEDERATION_HUB_CODE, settings.LIBRARY_CODE
    key = str(alert.get("watch", ""))[:64]
    if sender != hub:
        raise _not_owner(sender=sender, key=key, owner=hub, message="只有省级枢纽可以下发监视提醒")
    watch = (
        Watch.objects.select_for_update()
        .filter(pk=uuid.UUID(key))  # ValueError: dead-lettered as a payload error
        .first()
    )
    if watch is None or watch.home_library != here:
        raise _not_owner(
            sender=sender,
            key=key,
            owner=watch.home_library if watch is not None else "",
            message="下发的监视提醒所属的监视不是本库的",
        )
    return watch_alert_store(
        watch=watch, origin_library=sender, origin_id=int(alert["id"]), alert=alert
    )
