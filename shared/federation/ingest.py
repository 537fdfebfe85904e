"""Receiving envelopes: verify, order, apply, acknowledge (DESIGN §6, Zulip's bouncer protocol).

The receiver keeps a high-water mark per sender. An envelope whose first event is beyond the
mark + 1 is refused as a gap (the sender resumes from the mark); events at or below the mark are
duplicates and ignored; the rest are applied in order, each in its own savepoint, in one
transaction with the new mark. An event whose content cannot be applied is dead-lettered as a
`RejectedEvent` so the stream moves on; the sender learns which in the answer. So is an event
that would change a record its sender does not own (`federation.not_owner`, see
`shared.federation.ownership`): its sender is authenticated, so its stream must not stall on
it — the mark advances past it, nothing of it is applied, the rest of the envelope is.

A refused envelope is recorded against its sender only once the signature proves who that is;
an envelope refused before (malformed, unknown key, bad signature) names its sender only as a
claim (`claimed_sender`), which counts against nobody.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from shared.audit.context import plain_request_id
from shared.core.api.parsers import InputRefused, guarded_json_loads
from shared.core.errors import ApplicationError, ConflictError, PermanentError
from shared.core.gc_pause import collection_paused
from shared.domain.errors import DomainError
from shared.exchange.envelopes import EnvelopeError, OpenedEnvelope, envelope_body, open_envelope
from shared.federation.apply import HANDLERS
from shared.federation.arrivals import arrival_for
from shared.federation.bulk_apply import apply_new_licences, apply_repairs
from shared.federation.keys import peer_public_key
from shared.federation.models import Arrival, InboundCursor, ReceivedEnvelope, RejectedEvent
from shared.federation.rotation import ENVELOPE_KID

logger = structlog.stdlib.get_logger(__name__)


@dataclass(slots=True)
class IngestResult:
    high_water_mark: int
    applied: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    # The distinct request ids of the events taken (at or below the mark now), in order: the
    # sender's requests whose changes this envelope carried, answered in the ack.
    request_ids: list[str] = field(default_factory=list)


def _plain(value: Any) -> str:
    """An unauthenticated field as text the database always takes (no NUL, no surrogate)."""
    return "".join(c if c.isascii() and c.isprintable() else "?" for c in str(value)[:64])


def _body_loads(data: bytes) -> Any:
    """A signed body goes through the same input guard as a request body (depth, NUL, lone
    surrogates, integers past 64 bits): it was only base64 to the request's parser."""
    try:
        return guarded_json_loads(data)
    except InputRefused as exc:
        raise ValueError(exc.message) from None


def _claimed_body(envelope: Any) -> dict[str, Any]:
    return envelope_body(envelope, loads=_body_loads)


def _log(
    envelope: Any,
    *,
    outcome: str,
    sender: str = "",
    transport: str,
    envelope_id: str | None = None,
    **extra: Any,
) -> None:
    """`sender`: the authenticated sender, or "" (the body's claim is kept apart)."""
    body = {} if envelope_id is not None and sender else _claimed_body(envelope)
    envelope_id = _plain(envelope_id or body.get("envelope_id", ""))[:64]
    claimed = "" if sender else _plain(body.get("sender", ""))[:32]
    ReceivedEnvelope.objects.create(
        envelope_id=envelope_id,
        sender=sender[:6],
        claimed_sender=claimed,
        outcome=outcome,
        transport=transport,
        **extra,
    )


def _refuse(
    envelope: Any, code: str, message: str, *, transport: str, status: int, **extra: Any
) -> ApplicationError:
    body = _claimed_body(envelope)
    logger.warning(
        "exchange.envelope_refused",
        code=code,
        sender=extra.get("sender") or None,  # proven by the signature, or not known
        claimed_sender=_plain(body.get("sender", "")) if isinstance(body, dict) else "",
        transport=transport,
    )
    _log(
        envelope,
        outcome=ReceivedEnvelope.Outcome.REFUSED,
        transport=transport,
        error_code=code,
        error_message=message[:500],
        **extra,
    )
    return ApplicationError(code, message, status=status)


def ingest_envelope(envelope: Any, *, transport: str = "http") -> IngestResult:
    """Open, apply and record `envelope`; an `ApplicationError` (4xx) when it is refused.
    Without cyclic garbage collection meanwhile (`shared.core.gc_pause`): an envelope's
    thousands of objects made collections most of the hub's ingest CPU."""
    with collection_paused():
        return _ingest(envelope, transport=transport)


def _ingest(envelope: Any, *, transport: str) -> IngestResult:
    now = timezone.now()
    try:
        opened = open_envelope(
            envelope,
            resolve_key=peer_public_key,
            receiver=settings.LIBRARY_CODE,
            now=now,
            loads=_body_loads,
        )
    except EnvelopeError as exc:
        status = 400 if exc.code == "exchange.malformed" else 403
        # Only a sender proven by its signature is recorded (and counted) as the sender.
        raise _refuse(
            envelope,
            exc.code,
            exc.message,
            transport=transport,
            status=status,
            sender=exc.sender or "",
        ) from exc
    signer = ENVELOPE_KID.set(opened.kid)  # the key announcement handlers check who signed
    try:
        result = _apply(opened, transport=transport)
    except _Gap as gap:
        _log(
            envelope,
            sender=opened.sender,
            envelope_id=opened.envelope_id,
            outcome=ReceivedEnvelope.Outcome.GAP,
            transport=transport,
            first_seq=gap.first,
            error_code="exchange.gap",
            error_message=f"expected {gap.expected}",
        )
        raise ConflictError(
            "exchange.gap",
            f"序号不连续：本库已接收至 {gap.expected - 1}，请从 {gap.expected} 开始发送",
            {"expected": gap.expected, "high_water_mark": gap.expected - 1},
        ) from None
    except _Replay:
        raise _refuse(
            envelope,
            "exchange.replay",
            "该交换信封已接收过（重放），拒绝处理",
            transport=transport,
            status=409,
            sender=opened.sender,
        ) from None
    finally:
        ENVELOPE_KID.reset(signer)
    _log_received(opened, result, transport=transport)
    return result


def _log_received(opened: OpenedEnvelope, result: IngestResult, *, transport: str) -> None:
    """One line per envelope taken: its request ids are the sender's requests (a counter's
    issue at 郑州 is found here by its id); the line's own `request_id` is this call's."""
    seqs = [e["seq"] for e in opened.events]
    logger.info(
        "exchange.envelope_received",
        sender=opened.sender,
        stream=opened.stream,
        envelope_id=opened.envelope_id,
        transport=transport,
        first_seq=min(seqs, default=None),
        last_seq=max(seqs, default=None),
        high_water_mark=result.high_water_mark,
        applied=result.applied,
        duplicates=result.duplicates,
        rejected=len(result.rejected),
        request_ids=result.request_ids,
    )


def _request_ids(events: list[dict[str, Any]], *, up_to: int) -> list[str]:
    """An id that is not plain is left out (it is logged and answered), not refused: the
    envelope's changes matter more than their tracing."""
    ids = (plain_request_id(e.get("request_id")) for e in events if e["seq"] <= up_to)
    return list(dict.fromkeys(i for i in ids if i))


class _Gap(Exception):
    def __init__(self, expected: int, first: int) -> None:
        self.expected, self.first = expected, first


class _Replay(Exception):
    """An envelope id this library already applied."""


def _next_in_sequence(
    events: list[dict[str, Any]], *, high_water_mark: int, result: IngestResult
) -> list[dict[str, Any]]:
    """The sorted `events` that follow the mark without a hole; those at or below it are
    counted as duplicates in `result`."""
    todo: list[dict[str, Any]] = []
    for event in events:
        seq = event["seq"]
        if seq <= high_water_mark:
            result.duplicates += 1
            continue
        if seq != high_water_mark + len(todo) + 1:
            break  # a hole inside the envelope: stop here, the sender resends from the mark
        todo.append(event)
    return todo


@transaction.atomic
def _apply(opened: OpenedEnvelope, *, transport: str) -> IngestResult:
    InboundCursor.objects.bulk_create([InboundCursor(sender=opened.sender)], ignore_conflicts=True)
    cursor = InboundCursor.objects.select_for_update().get(sender=opened.sender)
    if ReceivedEnvelope.objects.filter(
        envelope_id=opened.envelope_id,
        outcome__in=(ReceivedEnvelope.Outcome.APPLIED, ReceivedEnvelope.Outcome.DUPLICATE),
    ).exists():
        raise _Replay
    events = sorted(opened.events, key=lambda e: e["seq"])
    result = IngestResult(high_water_mark=cursor.high_water_mark)
    if not events:
        return result
    if events[0]["seq"] > cursor.high_water_mark + 1:
        raise _Gap(cursor.high_water_mark + 1, events[0]["seq"])
    todo = _next_in_sequence(events, high_water_mark=cursor.high_water_mark, result=result)
    # New licences and whole-licence repairs first, a whole envelope at a time. A new licence's
    # event is its first, so nothing else in the envelope can be about it before it exists; a
    # repair carries the licence's whole state when it was sent, so an older event of it left
    # for the per-event path is recognised as older there and changes nothing.
    done = apply_new_licences(todo, opened.sender) | apply_repairs(todo, opened.sender)
    result.applied += len(done)
    applied: list[dict[str, Any]] = []
    for event in todo:
        if event["seq"] not in done:
            error = _apply_one(opened.sender, event)
            if error is not None:
                result.rejected.append({"seq": event["seq"], **error})
            else:
                result.applied += 1
                applied.append(event)
        else:
            applied.append(event)
        cursor.high_water_mark = event["seq"]
    _tell_applied(opened.sender, applied)
    cursor.last_envelope_at = timezone.now()
    if result.applied:
        cursor.last_event_at = cursor.last_envelope_at
    cursor.backlog = opened.backlog
    cursor.save()
    result.high_water_mark = cursor.high_water_mark
    result.request_ids = _request_ids(events, up_to=result.high_water_mark)
    _log(
        None,
        sender=opened.sender,
        envelope_id=opened.envelope_id,
        outcome=(
            ReceivedEnvelope.Outcome.APPLIED
            if result.applied or result.rejected
            else ReceivedEnvelope.Outcome.DUPLICATE
        ),
        transport=transport,
        first_seq=events[0]["seq"],
        last_seq=events[-1]["seq"],
        applied=result.applied,
        duplicates=result.duplicates,
        rejected=len(result.rejected),
    )
    return result


# Told, inside the envelope's transaction, of the events just applied from an authenticated
# sender, in sequence order (the hub's holder watch matches the licences among them).
AppliedListener = Callable[[str, list[dict[str, Any]]], None]
_applied_listeners: list[AppliedListener] = []


def applied_listener_register(listener: AppliedListener) -> None:
    if listener not in _applied_listeners:
        _applied_listeners.append(listener)


def _tell_applied(sender: str, events: list[dict[str, Any]]) -> None:
    """A listener's failure is its own (logged, its savepoint rolled back): it must not stall
    the sender's stream, whose events are applied."""
    if not events:
        return
    for listener in _applied_listeners:
        try:
            with transaction.atomic():
                listener(sender, events)
        except Exception:  # noqa: BLE001 - logged with its traceback
            logger.exception(
                "ingest.applied_listener_failed", listener=repr(listener), sender=sender
            )


def _apply_one(sender: str, event: dict[str, Any]) -> dict[str, str] | None:
    kind = event.get("kind")
    handler = HANDLERS.get(kind)  # type: ignore[arg-type]
    try:
        if handler is None:
            raise PermanentError("federation.kind_unknown", f"未知的事件类型：{kind}")
        with transaction.atomic():
            result = handler(event["payload"], sender=sender)
            if kind in ("license.event", "license.repair"):
                _record_arrival(result, event["payload"])
    except (ApplicationError, DomainError) as exc:
        return _reject(sender, event, exc.code, exc.message)
    except (KeyError, TypeError, ValueError, IntegrityError) as exc:
        return _reject(
            sender, event, "federation.payload_invalid", f"事件内容无法应用：{exc!r}"[:500]
        )
    return None


def _reject(sender: str, event: dict[str, Any], code: str, message: str) -> dict[str, str]:
    RejectedEvent.objects.get_or_create(
        sender=sender,
        seq=event["seq"],
        defaults={
            "kind": str(event.get("kind", ""))[:32],
            "key": str(event.get("key", ""))[:120],
            "error_code": code,
            "error_message": message[:500],
            "payload": event.get("payload") or {},
        },
    )
    return {"code": code, "message": message}


def _record_arrival(lic: Any, payload: dict[str, Any]) -> None:
    """Timeliness (art. 14): the first arrival of each licence against its deadline."""
    arrival = arrival_for(lic, payload, now=timezone.now())
    if not Arrival.objects.filter(key=arrival.key).exists():
        arrival.save()
