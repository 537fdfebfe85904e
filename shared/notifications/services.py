"""The notification outbox: `notify` queues, `notification_deliver` sends one row,
`notification_sweep` picks up what is due, `notification_retry` is the operator's button.

Delivery is at most once per row. A sender first *claims* the row in a transaction of its own
(`select_for_update(skip_locked=True)`, state `sending`, the attempt counted, a lease in
`next_attempt_at`) and commits before anything leaves; then it sends; then it records the
outcome. A crash between the peer's acceptance (SMTP 250, HTTP 2xx, the line on disk) and the
outcome's commit leaves the row `sending`: the sweep finds the lease expired and marks it
`dead` with “发送中断，结果未知”, never resending it on its own (the peer may have it). The
operator sees it and may retry. Failures that prove nothing left (connection refused, a 4xx
SMTP reply, a gateway 5xx) are retried with back-off; after NOTIFY_MAX_ATTEMPTS, `dead`.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from shared.accounts.models import User
from shared.audit.services import audit_record
from shared.core.effects import enqueue_on_commit
from shared.core.errors import ConflictError, ForbiddenError, NotFoundError, PermanentError
from shared.notifications.channels import DeliveryError, Message, adapter_for
from shared.notifications.models import Contact, Notification

logger = logging.getLogger(__name__)

State = Notification.State
INTERRUPTED = "发送中断，结果未知：为避免重复，不再自动重发（可核实后手动重试）"


def user_channels(user: User) -> list[tuple[str, str]]:
    """The (channel, address) pairs a user is reached on, in NOTIFY_CHANNELS order; SMS only
    once a gateway is configured (NOTIFY_SMS_URL)."""
    enabled = [c for c in settings.NOTIFY_CHANNELS if c != "sms" or settings.NOTIFY_SMS_URL]
    found: list[tuple[str, str]] = []
    phone = ""
    if "sms" in enabled:
        contact = Contact.objects.filter(user=user).only("phone").first()
        phone = contact.phone if contact else ""
    for channel in enabled:
        if channel == "email" and user.email:
            found.append(("email", user.email))
        elif channel == "sms" and phone:
            found.append(("sms", phone))
        elif channel == "file":
            found.append(("file", user.email or user.username))
    return found


def notify(
    *,
    event: str,
    dedupe_key: str,
    users: Iterable[User],
    subject: str,
    body: str,
    link: str = "",
) -> int:
    """Queue one notification per user × the user's channels (email/sms/file), inside the
    caller's transaction; delivery tasks are sent on commit. A (dedupe_key, user, channel)
    already queued is skipped, so calling twice never notifies twice. Returns how many rows
    were queued."""
    now = timezone.now()
    rows: list[Notification] = []
    seen: set[int] = set()
    for user in users:
        if user.pk in seen or not user.is_active:
            continue
        seen.add(user.pk)
        for channel, address in user_channels(user):
            rows.append(
                Notification(
                    event=event[:40],
                    dedupe_key=dedupe_key[:200],
                    user=user,
                    channel=channel,
                    address=address[:254],
                    subject=subject[:200],
                    body=body,
                    link=link[:500],
                    next_attempt_at=now,
                )
            )
    if not rows:
        return 0
    with transaction.atomic():
        # A conflicting row is skipped, not an error: the ids generated here that exist after
        # the insert are exactly the rows this call queued.
        Notification.objects.bulk_create(rows, ignore_conflicts=True)
        queued = [
            str(pk)
            for pk in Notification.objects.filter(pk__in=[r.pk for r in rows]).values_list(
                "pk", flat=True
            )
        ]
        if queued:
            from shared.notifications.tasks import deliver

            enqueue_on_commit(deliver, queued)
    return len(queued)


PHONE = re.compile(r"^1[3-9]\d{9}$")


@transaction.atomic
def contact_set(*, actor: User | None, user: User, phone: str) -> Contact:
    """Set (or clear, with "") the mobile number a user's SMS go to; audited. A number that is
    not an 11-digit mainland mobile number is refused (400 `contact.phone`), nothing changed."""
    phone = (phone or "").strip().replace(" ", "").replace("-", "")
    if phone and not PHONE.match(phone):
        raise PermanentError("contact.phone", "手机号码格式不正确（11 位手机号）", {"phone": phone})
    contact, _ = Contact.objects.select_for_update().get_or_create(user=user)
    before = {"phone": contact.phone}
    contact.phone = phone
    contact.save(update_fields=["phone", "updated_at"])
    audit_record(
        actor=actor,
        action="contact.update",
        target_type="user",
        target_id=str(user.pk),
        before=before,
        after={"phone": phone},
    )
    return contact


def _backoff(attempts: int) -> timedelta:
    seconds = settings.NOTIFY_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, settings.NOTIFY_RETRY_MAX_SECONDS))


def _claim(notification_id: str) -> tuple[Notification, int] | None:
    """Lock a due row, mark it `sending` with the attempt counted, commit: only then send."""
    now = timezone.now()
    with transaction.atomic():
        row = (
            Notification.objects.select_for_update(skip_locked=True)
            .filter(pk=notification_id, state__in=[State.PENDING, State.FAILED])
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .first()
        )
        if row is None:
            return None
        row.state = State.SENDING
        row.attempts += 1
        row.next_attempt_at = now + timedelta(seconds=settings.NOTIFY_SENDING_LEASE_SECONDS)
        row.save(update_fields=["state", "attempts", "next_attempt_at"])
    return row, row.attempts


def notification_deliver(*, notification_id: str) -> str:
    """Send one row if it is due and nobody else holds it; returns what happened
    (`skipped`, `sent`, `failed`, `dead`). Safe to call twice or concurrently."""
    claimed = _claim(notification_id)
    if claimed is None:
        return "skipped"
    row, attempt = claimed
    message = Message(
        id=str(row.pk),
        event=row.event,
        address=row.address,
        subject=row.subject,
        body=row.body,
        link=row.link,
    )
    now = timezone.now()
    changes: dict[str, Any]
    try:
        adapter_for(row.channel).send(message)
    except DeliveryError as exc:
        final = not exc.retryable or attempt >= settings.NOTIFY_MAX_ATTEMPTS
        changes = {
            "state": State.DEAD if final else State.FAILED,
            "last_error": str(exc)[:500],
            "next_attempt_at": None if final else now + _backoff(attempt),
        }
    except Exception as exc:  # noqa: BLE001 - a bug in an adapter must not leave it `sending`
        logger.exception("notification %s: adapter %s failed", row.pk, row.channel)
        changes = {
            "state": State.FAILED if attempt < settings.NOTIFY_MAX_ATTEMPTS else State.DEAD,
            "last_error": f"内部错误：{type(exc).__name__}"[:500],
            "next_attempt_at": now + _backoff(attempt),
        }
    else:
        changes = {"state": State.SENT, "sent_at": now, "last_error": "", "next_attempt_at": None}
    # Only the claim that sent it records the outcome (the attempt number names the claim).
    Notification.objects.filter(pk=row.pk, attempts=attempt).update(**changes)
    return str(changes["state"])


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepResult:
    delivered: int
    interrupted: int


def notification_sweep(*, limit: int = 500, budget_seconds: float = 20.0) -> SweepResult:
    """Beat: rows left `sending` past their lease become `dead` (outcome unknown: at most
    once); due `pending`/`failed` rows are delivered (each claimed with skip_locked, so a
    sweep and a delivery task never send one row twice). A run stops after `budget_seconds`
    (a peer that times out must not hold a worker for hours); the next run goes on."""
    now = timezone.now()
    stop_at = time.monotonic() + budget_seconds
    interrupted = Notification.objects.filter(state=State.SENDING, next_attempt_at__lt=now).update(
        state=State.DEAD, last_error=INTERRUPTED, next_attempt_at=None
    )
    due = list(
        Notification.objects.filter(
            state__in=[State.PENDING, State.FAILED], next_attempt_at__lte=now
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    delivered = 0
    for pk in due:
        if time.monotonic() > stop_at:
            break
        if notification_deliver(notification_id=str(pk)) == State.SENT:
            delivered += 1
    return SweepResult(delivered=delivered, interrupted=interrupted)


def _snapshot(row: Notification) -> dict[str, Any]:
    return {
        "state": row.state,
        "attempts": row.attempts,
        "last_error": row.last_error,
        "next_attempt_at": row.next_attempt_at.isoformat() if row.next_attempt_at else None,
    }


@transaction.atomic
def notification_retry(*, actor: User, notification_id: str) -> Notification:
    """The operator sends a failed or dead row again (one more attempt, at once); audited."""
    if not actor.is_library_admin:
        raise ForbiddenError("notification.forbidden", "仅库管理员可以重试通知发送")
    row = Notification.objects.select_for_update().filter(pk=notification_id).first()
    if row is None:
        raise NotFoundError("notification.not_found", "通知不存在", {"id": notification_id})
    if row.state not in (State.FAILED, State.DEAD):
        raise ConflictError(
            "notification.not_retryable",
            "只有失败或已放弃的通知可以重试",
            {"id": str(row.pk), "state": row.state},
        )
    before = _snapshot(row)
    row.state = State.PENDING
    row.next_attempt_at = timezone.now()
    row.save(update_fields=["state", "next_attempt_at"])
    audit_record(
        actor=actor,
        action="notification.retry",
        target_type="notification",
        target_id=str(row.pk),
        before=before,
        after=_snapshot(row),
        detail={"event": row.event, "channel": row.channel},
    )
    from shared.notifications.tasks import deliver

    enqueue_on_commit(deliver, [str(row.pk)])
    return row
