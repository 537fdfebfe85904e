"""Subscribing, cancelling and storing alerts (issue #14 item 5).

A holder subscribes to a watch on their own identity; the watch goes where the tier sends it
(`shared.watch.federation`: a city sends `watch.subscribe` up to the hub in the same
transaction). An alert — a match the hub made — is stored once per origin and told to every
holder account of that identity here through `notify` (event `watch.alert`).
"""

import logging
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from shared.accounts.models import User
from shared.audit.services import audit_record
from shared.core.errors import NotFoundError, PermanentError
from shared.core.holder_codes import holder_digests_of
from shared.notifications.services import notify
from shared.watch import selectors
from shared.watch.federation import watch_federation
from shared.watch.models import Watch, WatchAlert
from shared.watch.wire import ALERT_FIELDS

logger = logging.getLogger(__name__)

NOTIFY_EVENT = "watch.alert"
KIND_TEXT = {"issued": "签发了", "changed": "变更了", "queried": "使用了"}


def _snapshot(watch: Watch) -> dict[str, Any]:
    return {
        "id": str(watch.pk),
        "home_library": watch.home_library,
        "holder_code_type": watch.holder_code_type,
        "since": watch.since.isoformat(),
        "state": watch.state,
    }


@transaction.atomic
def watch_subscribe(*, holder: User) -> Watch:
    """The holder's active watch, made now if there is none (a second call returns it)."""
    if not holder.is_holder or not holder.holder_code_digest:
        raise PermanentError("watch.no_identity", "账户未登记持证主体代码，无法订阅监视")
    held = selectors.holder_watch(holder=holder)
    if held is not None:
        return held
    watch = Watch(
        home_library=settings.LIBRARY_CODE,
        holder_name=holder.display_name,
        holder_code_type=holder.holder_code_type,
        since=timezone.now(),
    )
    watch.holder_code = holder.holder_code
    try:
        with transaction.atomic():
            watch.save()
    except IntegrityError:  # a concurrent subscription of the same identity won
        held = selectors.holder_watch(holder=holder)
        if held is None:
            raise
        return held
    audit_record(
        actor=holder,
        action="watch.subscribe",
        target_type="watch",
        target_id=str(watch.pk),
        before=None,
        after=_snapshot(watch),
    )
    watch_federation().subscribed(watch)
    return watch


@transaction.atomic
def watch_cancel(*, holder: User) -> Watch:
    """Cancel the holder's active watch; 404 `watch.not_found` when there is none."""
    held = selectors.holder_watch(holder=holder)
    watch = Watch.objects.select_for_update().filter(pk=held.pk).first() if held else None
    if watch is None or watch.state != Watch.State.ACTIVE:
        raise NotFoundError("watch.not_found", "您没有正在进行的监视")
    before = _snapshot(watch)
    watch.state, watch.cancelled_at = Watch.State.CANCELLED, timezone.now()
    watch.save(update_fields=["state", "cancelled_at"])
    audit_record(
        actor=holder,
        action="watch.cancel",
        target_type="watch",
        target_id=str(watch.pk),
        before=before,
        after=_snapshot(watch),
    )
    watch_federation().cancelled(watch)
    return watch


def _alert_text(alert: WatchAlert) -> tuple[str, str]:
    what = KIND_TEXT.get(alert.kind, "涉及了")
    where = f"{alert.library_name or alert.library_code}（{alert.library_code}）"
    who = alert.agency_name if alert.kind == "queried" else alert.issuer_name
    when = timezone.localtime(alert.occurred_at).strftime("%Y-%m-%d %H:%M")
    subject = f"证照监视提醒：{who or where}{what}您名下的证照"
    body = (
        f"{when}，{where}的{who or '单位'}{what}您名下的「{alert.type_name or alert.type_code}」"
        f"（证照标识 {alert.identifier}，{alert.action_label or alert.action}）。"
        "如不是您本人申请或授权的，请尽快联系发证单位或证照库管理员。"
    )
    return subject, body


def _max_length(name: str) -> int:
    field = WatchAlert._meta.get_field(name)
    return int(getattr(field, "max_length", None) or 200)


@transaction.atomic
def watch_alert_store(
    *, watch: Watch, origin_library: str, origin_id: int, alert: dict[str, Any]
) -> WatchAlert | None:
    """Store one alert of `watch` and notify the holder; None when it is held already (a
    redelivery) or the watch was cancelled before it arrived (logged)."""
    if WatchAlert.objects.filter(origin_library=origin_library, origin_id=origin_id).exists():
        return None
    if watch.state != Watch.State.ACTIVE:
        logger.info("watch.alert_after_cancel watch=%s origin=%s", watch.pk, origin_id)
        return None
    fields = {
        name: str(alert.get(name) or "")[: _max_length(name)]
        for name in ALERT_FIELDS
        if name != "occurred_at"
    }
    if fields["kind"] not in WatchAlert.Kind.values:
        raise PermanentError("watch.payload_invalid", "监视提醒的事件类型未知")
    occurred_at = alert["occurred_at"]
    if not isinstance(occurred_at, datetime):
        occurred_at = datetime.fromisoformat(str(occurred_at))
    if timezone.is_naive(occurred_at):
        raise PermanentError("watch.payload_invalid", "监视提醒的时间缺少时区")
    row = WatchAlert(
        watch=watch,
        origin_library=origin_library,
        origin_id=origin_id,
        occurred_at=occurred_at,
        **fields,
    )
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:  # a concurrent delivery of the same alert stored it
        return None
    subject, body = _alert_text(row)
    users = User.objects.filter(
        role=User.Role.HOLDER,
        is_active=True,
        holder_code_digest__in=holder_digests_of(watch),  # either version during a rotation
        holder_code_type=watch.holder_code_type,
    ).order_by("pk")
    notify(
        event=NOTIFY_EVENT,
        dedupe_key=f"watch.alert:{origin_library}:{origin_id}",
        users=list(users),
        subject=subject,
        body=body,
        link="/holder/watch/",
    )
    return row
