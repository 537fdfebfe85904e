"""Writes for webhook deliveries: the events a licence change makes for its subscribers, their
delivery with retries and backoff, the sweep that catches what a lost task missed, and the
operator's retry of dead events. Subscribing is in shared.webhooks.subscriptions."""

import json
import logging
import time
from datetime import datetime, timedelta
from typing import Any

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from shared.access.keys import log_key_id, log_signing_key
from shared.access.models import Grant
from shared.accounts.models import User
from shared.audit.services import audit_record
from shared.catalog.models import LicenseType
from shared.core.effects import enqueue_on_commit
from shared.core.errors import ForbiddenError
from shared.domain.status import Action
from shared.licenses.models import License, LicenseEvent
from shared.notifications.services import notify
from shared.webhooks import signing
from shared.webhooks.models import DeliveryAttempt, Signing, Subscription, WebhookEvent

logger = logging.getLogger(__name__)

# The licence events a subscriber hears about: every change of status or of version.
NOTIFIED_ACTIONS = frozenset(
    {
        Action.suspend,
        Action.resume,
        Action.revoke,
        Action.cancel,
        Action.annul,
        Action.renew,
        Action.amend,
        Action.expire,
    }
)


# --- events ----------------------------------------------------------------------------------


def grants_in_force_any() -> QuerySet[Grant]:
    """Every grant in force today (as `grants_active`, for all agencies at once)."""
    today = timezone.localdate()
    return Grant.objects.filter(revoked_at__isnull=True, valid_from__lte=today).filter(
        Q(valid_to__isnull=True) | Q(valid_to__gte=today)
    )


def grants_in_force(*, license_type: LicenseType) -> QuerySet[Grant]:
    """Every agency's grants for `license_type` in force today."""
    return grants_in_force_any().filter(license_type=license_type)


def _payload(event: WebhookEvent, lic: License, license_event: LicenseEvent) -> dict[str, Any]:
    return {
        "event_id": str(event.event_id),
        "type": event.type,
        "identifier": license_event.identifier,
        "status": license_event.to_status,
        "from_status": license_event.from_status,
        "version": license_event.version,
        "occurred_at": license_event.created_at.isoformat(),
        "library_code": lic.library_code,
        "subscription_id": event.subscription_id,
        "matter_code": event.subscription.matter_code,
    }


def webhook_events_for_change(*, license: License, event: LicenseEvent) -> list[WebhookEvent]:
    """One pending `WebhookEvent` per live subscription of this licence whose agency still
    holds a grant for its matter; called inside the licence change's transaction (the
    receiver of the new `LicenseEvent`), so the events commit or roll back with the change. Delivery
    is queued on commit; the beat sweep picks up what that kick misses."""
    if event.action not in NOTIFIED_ACTIONS:
        return []
    subs = list(Subscription.objects.filter(license=license, deleted_at=None))
    if not subs:
        return []
    # One query for the grants in force, not one per subscription.
    granted = set(
        grants_in_force(license_type=license.license_type)
        .filter(
            agency_id__in={s.agency_id for s in subs},
            matter_code__in={s.matter_code for s in subs},
        )
        .values_list("agency_id", "matter_code")
    )
    created: list[WebhookEvent] = []
    now = timezone.now()
    for sub in subs:
        if (sub.agency_id, sub.matter_code) not in granted:
            continue  # the grant ended: the agency no longer hears about this licence
        row = WebhookEvent(
            subscription=sub,
            license_event=event,
            type=f"licence.{event.action}",
            payload={},
            next_attempt_at=now,
        )
        row.payload = _payload(row, license, event)
        created.append(row)
    rows = WebhookEvent.objects.bulk_create(created, ignore_conflicts=True)
    if rows:
        from shared.webhooks.tasks import deliver

        enqueue_on_commit(deliver, [str(r.event_id) for r in rows])
    return rows


# --- delivery --------------------------------------------------------------------------------


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failure: base × 2^(attempts − 1), capped."""
    base = settings.WEBHOOK_RETRY_BASE_SECONDS
    return timedelta(
        seconds=min(base * 2 ** max(attempts - 1, 0), settings.WEBHOOK_RETRY_MAX_SECONDS)
    )


def request_parts(event: WebhookEvent, *, timestamp: str) -> tuple[bytes, dict[str, str]]:
    """The exact body and headers of a delivery (the body is the same bytes every time)."""
    body = json.dumps(
        event.payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")
    ).encode()
    sub = event.subscription
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": f"elicense-webhooks/1 ({settings.LIBRARY_CODE})",
        signing.HEADER_EVENT_ID: str(event.event_id),
        signing.HEADER_TIMESTAMP: timestamp,
    }
    if sub.signing == Signing.SM2_SM3:
        headers[signing.HEADER_KEY_ID] = log_key_id()
        headers[signing.HEADER_SIGNATURE] = signing.sign_sm2(
            key=log_signing_key(), timestamp=timestamp, body=body
        )
    else:
        headers[signing.HEADER_SIGNATURE] = signing.sign(
            algorithm=sub.signing, secret=sub.secret, timestamp=timestamp, body=body
        )
    return body, headers


def _post(event: WebhookEvent) -> tuple[int | None, str]:
    """POST the event once; (status code, error text). No redirects are followed."""
    body, headers = request_parts(event, timestamp=str(int(time.time())))
    try:
        response = requests.post(
            event.subscription.target_url,
            data=body,
            headers=headers,
            timeout=settings.WEBHOOK_HTTP_TIMEOUT,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500]
    if 200 <= response.status_code < 300:
        return response.status_code, ""
    return response.status_code, f"HTTP {response.status_code}: {response.text[:200]}"


def _notify_dead(event: WebhookEvent, *, attempt_number: int) -> None:
    """Tell the operators (library administrators) and the subscribing agency's administrators
    that an event is dead, in the delivery's transaction (`webhook.failed`; once per death:
    an event retried and dead again is told again)."""
    sub = event.subscription
    users = User.objects.filter(is_active=True).filter(
        Q(role=User.Role.LIBRARY_ADMIN) | Q(role=User.Role.AGENCY_ADMIN, agency_id=sub.agency_id)
    )
    notify(
        event="webhook.failed",
        dedupe_key=f"webhook.failed:{event.event_id}:{attempt_number}",
        users=users,
        subject=f"Webhook 投递失败：{event.payload.get('identifier', '')}",
        body=(
            f"事件 {event.event_id}（{event.type}）向 {sub.target_url} 投递 {event.attempts} 次均失败，"
            f"已停止重试。最近错误：{event.last_error}。库管理员可在“库管理 → Webhook 投递”重试。"
        ),
        link="/console/admin/webhooks/?state=dead",
    )


def _still_granted(sub: Subscription) -> bool:
    if sub.license_id is None or sub.deleted_at is not None:
        return False
    license_type_id = License.objects.filter(pk=sub.license_id).values("license_type_id")
    return (
        grants_in_force_any()
        .filter(
            agency_id=sub.agency_id,
            matter_code=sub.matter_code,
            license_type_id__in=license_type_id,
        )
        .exists()
    )


def webhook_deliver(*, event_id: str, now: datetime | None = None) -> str | None:
    """Deliver one due event once; its new state, or None when it is not due, done, or being
    delivered by another worker (row lock, skip locked).

    The row stays locked through the POST (bounded by `WEBHOOK_HTTP_TIMEOUT`), so two workers
    never send it at once, and a delivered event is never sent again. A worker that dies
    after the receiver answered but before commit sends it once more: receivers deduplicate
    by event id (docs/webhooks.md)."""
    with transaction.atomic():
        event = (
            WebhookEvent.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("subscription")
            .filter(
                event_id=event_id,
                state=WebhookEvent.State.PENDING,
                next_attempt_at__lte=now or timezone.now(),
            )
            .first()
        )
        if event is None:
            return None
        if not _still_granted(event.subscription):
            # The grant ended (or the licence left this library) after the change: what the
            # agency may no longer use, it is not told either.
            event.state, event.next_attempt_at = WebhookEvent.State.CANCELLED, None
            event.last_error = "用证授权已失效，不再投递"
            event.save(update_fields=["state", "next_attempt_at", "last_error"])
            return event.state
        started, clock = timezone.now(), time.monotonic()
        status_code, error = _post(event)
        duration = int((time.monotonic() - clock) * 1000)
        event.attempts += 1
        number = event.deliveries.count() + 1  # the row is locked: no other attempt now
        DeliveryAttempt.objects.create(
            event=event,
            number=number,
            started_at=started,
            status_code=status_code,
            error=error,
            duration_ms=duration,
            succeeded=not error,
        )
        if not error:
            event.state, event.delivered_at, event.next_attempt_at = (
                WebhookEvent.State.DELIVERED,
                timezone.now(),
                None,
            )
            event.last_error = ""
        elif event.attempts >= settings.WEBHOOK_MAX_ATTEMPTS or status_code == 410:
            event.state, event.next_attempt_at = WebhookEvent.State.DEAD, None
            event.last_error = error
            _notify_dead(event, attempt_number=number)
        else:
            event.next_attempt_at = timezone.now() + backoff(event.attempts)
            event.last_error = error
        event.save(
            update_fields=["state", "attempts", "next_attempt_at", "last_error", "delivered_at"]
        )
        return event.state


def webhook_sweep(*, limit: int = 200, budget_seconds: float = 60.0) -> int:
    """Deliver the events due now, oldest first, each in its own transaction (beat). Stops
    after `budget_seconds`, so slow receivers cannot keep one sweep running for long (the
    next sweep goes on; a task that ran past the broker's visibility timeout would run twice)."""
    due = list(
        WebhookEvent.objects.filter(
            state=WebhookEvent.State.PENDING, next_attempt_at__lte=timezone.now()
        )
        .order_by("next_attempt_at", "id")
        .values_list("event_id", flat=True)[:limit]
    )
    deadline, attempted = time.monotonic() + budget_seconds, 0
    for event_id in due:
        if time.monotonic() > deadline:
            break
        if webhook_deliver(event_id=str(event_id)) is not None:
            attempted += 1
    return attempted


# A retry of more dead events than this is left to the sweep (200 due events a run, oldest
# first) instead of one task message naming them all.
RETRY_KICK_MAX = 500


@transaction.atomic
def webhook_retry(*, actor: User, event_ids: list[str] | None = None) -> int:
    """The operator's retry: dead events (the ones named, or all) become pending and due now,
    with a fresh count of attempts (their earlier attempt rows stay). Delivered and cancelled
    events are never sent again. "All" is one UPDATE however many there are: the ids are read
    only to name a few in the audit and to kick their delivery when there are few."""
    if not actor.is_library_admin:
        raise ForbiddenError(
            "permission.library_admin_required", "仅库管理员（节点管理员/省级运营人员）可重试投递"
        )
    dead = WebhookEvent.objects.filter(state=WebhookEvent.State.DEAD)
    if event_ids is not None:
        dead = dead.filter(event_id__in=event_ids)
    named = [
        str(e) for e in dead.order_by("id").values_list("event_id", flat=True)[: RETRY_KICK_MAX + 1]
    ]
    count = dead.update(
        state=WebhookEvent.State.PENDING, attempts=0, next_attempt_at=timezone.now()
    )
    if count:
        audit_record(
            actor=actor,
            action="webhook.retry",
            target_type="webhook_event",
            target_id=",".join(named)[:100],
            before={"state": "dead"},
            after={"state": "pending", "count": count},
        )
        from shared.webhooks.tasks import deliver, sweep

        if count <= RETRY_KICK_MAX:
            enqueue_on_commit(deliver, named)
        else:
            enqueue_on_commit(sweep)
    return count
