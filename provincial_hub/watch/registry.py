"""`watch.subscribe` and `watch.cancel` from a city (issue #14 item 5).

Trust nothing but the signature. A city may register a watch only for a holder whose code
names that city (`holder_city`: the area code inside the citizen ID or the credit code) — its
own holders; the watch's home is its sender, and only that home may cancel it. Anything else is
`federation.not_owner` and writes nothing. A subscription held already (same id, same home) is a
redelivery and changes nothing; a cancellation of an unknown or cancelled watch changes nothing
and is logged.
"""

import logging
import uuid
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from shared.core.errors import PermanentError
from shared.core.holder_codes import holder_code_digests, holder_code_normalise
from shared.federation.outbox import holder_city
from shared.federation.ownership import NOT_OWNER, NotOwnerError
from shared.watch.models import Watch

logger = logging.getLogger(__name__)


def _not_owner(*, sender: str, key: str, owner: str, message: str) -> NotOwnerError:
    logger.warning("%s sender=%s record=watch key=%s owner=%s", NOT_OWNER, sender, key, owner)
    return NotOwnerError(
        NOT_OWNER, message, {"sender": sender, "record": "watch", "key": key, "owner": owner}
    )


def _moment(value: Any) -> datetime:
    moment = datetime.fromisoformat(str(value))
    if timezone.is_naive(moment):
        raise PermanentError("watch.payload_invalid", "监视订阅的时间缺少时区")
    return moment


@transaction.atomic
def apply_watch_subscribe(payload: dict[str, Any], *, sender: str) -> Watch:
    snap = payload["watch"]
    key = str(snap["id"])[:64]
    watch_id = uuid.UUID(key)  # ValueError: dead-lettered as a payload error
    holder = snap["holder"]
    code_type = str(holder["code_type"])[:3]
    code = holder_code_normalise(str(holder["code"]), code_type)
    home = holder_city(code, code_type) or ""
    if home != sender:
        raise _not_owner(
            sender=sender, key=key, owner=home, message="只能为本市的持证人订阅证照监视"
        )
    held = Watch.objects.select_for_update().filter(pk=watch_id).first()
    if held is not None:
        if held.home_library != sender:
            raise _not_owner(
                sender=sender, key=key, owner=held.home_library, message="该监视不是发送方订阅的"
            )
        return held  # a redelivery
    # A newer subscription of the same holder from the same city replaces an older one still
    # active here (its cancellation was lost or dead-lettered).
    for older in Watch.objects.select_for_update().filter(
        home_library=sender,
        holder_code_digest__in=holder_code_digests(code),  # either version during a rotation
        holder_code_type=code_type,
        state=Watch.State.ACTIVE,
    ):
        logger.info("watch.replaced watch=%s by=%s", older.pk, watch_id)
        older.state, older.cancelled_at = Watch.State.CANCELLED, timezone.now()
        older.save(update_fields=["state", "cancelled_at"])
    watch = Watch(
        id=watch_id,
        home_library=sender,
        holder_name=str(holder.get("name") or "")[:200],
        holder_code_type=code_type,
        since=_moment(snap["since"]),
    )
    watch.holder_code = code
    watch.save(force_insert=True)
    return watch


@transaction.atomic
def apply_watch_cancel(payload: dict[str, Any], *, sender: str) -> Watch | None:
    snap = payload["watch"]
    key = str(snap["id"])[:64]
    watch = Watch.objects.select_for_update().filter(pk=uuid.UUID(key)).first()
    if watch is None:
        logger.warning("watch.cancel_ignored reason=unknown watch=%s sender=%s", key, sender)
        return None
    if watch.home_library != sender:
        raise _not_owner(
            sender=sender, key=key, owner=watch.home_library, message="只能取消本市订阅的监视"
        )
    if watch.state != Watch.State.ACTIVE:
        return watch  # a redelivery
    cancelled_at = snap.get("cancelled_at")
    watch.state = Watch.State.CANCELLED
    watch.cancelled_at = _moment(cancelled_at) if cancelled_at else timezone.now()
    watch.save(update_fields=["state", "cancelled_at"])
    return watch
