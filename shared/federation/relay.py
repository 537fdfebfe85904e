"""The relay: sends a stream's outbox in order, and records every attempt on the rows.

One relay per stream at a time (a lease row). It resumes from what the receiver acknowledged;
on a gap the receiver names the next sequence it expects and the relay rewinds to it. Retryable
failures (network, timeouts, 5xx) back off exponentially per row (attempts, last error, next
try); after FEDERATION_MAX_ATTEMPTS a row is dead-lettered. A permanent failure (the receiver
refuses the envelope itself: bad signature, unknown sender, malformed) dead-letters the rows at
once: sending the same thing again cannot succeed. Dead rows wait, with their error, for an
operator's retry (`outbox_retry`, the outbox console). Events the receiver could not apply
come back as rejected and are dead-lettered with its reason.
"""

import os
import socket
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from shared.audit.services import audit_record
from shared.core.errors import NotFoundError
from shared.exchange.adapters import Ack, ExchangeAdapter, ExchangeError, PermanentExchangeError
from shared.exchange.envelopes import WIRE_VERSION, seal
from shared.federation.keys import peer_get, signing_key
from shared.federation.models import OutboxEvent, StreamCounter, StreamState
from shared.federation.outgoing import Batch, OutgoingRow, envelope_version, next_envelope
from shared.federation.sizing import learned, resize
from shared.federation.transport import adapter_for

LEASE_SECONDS = 15  # short, so a relay killed mid-send is taken over soon; renewed per envelope
_RUN = uuid.uuid4().hex[:8]
logger = structlog.stdlib.get_logger(__name__)


def _owner() -> str:
    """Who holds a lease: this process and thread. Not a module constant: Celery's prefork
    children import this module once in their parent, and a name they all shared let every
    child take the same stream's lease and send the same envelopes at the same time."""
    return f"{socket.gethostname()[:24]}:{os.getpid()}:{threading.get_ident()}:{_RUN}"  # ≤ 64


@dataclass(slots=True)
class RelayResult:
    sent: int = 0
    acknowledged: int = 0
    envelopes: int = 0
    error: str = ""


def _lease(stream: str, *, renew: bool = False) -> bool:
    if not renew:  # the first take: the stream's row may not exist yet
        StreamState.objects.bulk_create([StreamState(stream=stream)], ignore_conflicts=True)
    now, owner = timezone.now(), _owner()
    return bool(
        StreamState.objects.filter(stream=stream)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now) | Q(lease_owner=owner))
        .update(lease_owner=owner, lease_until=now + timedelta(seconds=lease_seconds()))
    )


def lease_seconds() -> float:
    """LEASE_SECONDS beyond the longest one send may block (connect + read timeout): a lease
    shorter than that expired while a slow receiver was still applying an envelope, and a
    second relay run sent the same rows again (seen in bench/province: each event ≈ 2.8 times)."""
    connect, read = settings.FEDERATION_HTTP_TIMEOUT
    return LEASE_SECONDS + connect + read


def _release(stream: str) -> None:
    StreamState.objects.filter(stream=stream, lease_owner=_owner()).update(
        lease_owner="", lease_until=None
    )


def _acknowledge(stream: str, high_water_mark: int, *, sent_at: datetime | None = None) -> int:
    now = timezone.now()
    count = (
        OutboxEvent.objects.filter(stream=stream, seq__lte=high_water_mark)
        .exclude(state__in=(OutboxEvent.State.ACKNOWLEDGED, OutboxEvent.State.DEAD))
        .update(
            state=OutboxEvent.State.ACKNOWLEDGED,
            acked_at=now,
            sent_at=Coalesce(F("sent_at"), Value(sent_at or now)),
            last_error="",
        )
    )
    StreamState.objects.filter(stream=stream).update(
        acked_seq=high_water_mark, sent_seq=high_water_mark, last_success_at=now, last_error=""
    )
    return count


def _fail(stream: str, sent: list[OutgoingRow], error: ExchangeError) -> None:
    now = timezone.now()
    message = f"{error.code}: {error.message}"[:500]
    permanent = isinstance(error, PermanentExchangeError)
    rows = OutboxEvent.objects.filter(pk__in=[r.pk for r in sent]).order_by("seq")
    for row in rows:
        row.attempts += 1
        row.last_error = message
        dead = permanent or row.attempts >= settings.FEDERATION_MAX_ATTEMPTS
        row.state = OutboxEvent.State.DEAD if dead else OutboxEvent.State.FAILED
        row.next_attempt_at = now + backoff(row.attempts)
        row.save(update_fields=["attempts", "last_error", "state", "next_attempt_at"])
    StreamState.objects.filter(stream=stream).update(last_error=message, last_error_at=now)
    logger.warning(
        "exchange.envelope_failed",
        stream=stream,
        first_seq=sent[0].seq if sent else None,
        last_seq=sent[-1].seq if sent else None,
        code=error.code,
        error=error.message[:500],
        permanent=permanent,
        request_ids=_request_ids(sent),
    )


def backoff(attempts: int) -> timedelta:
    """How long a row waits after its `attempts`-th failure: doubling, capped."""
    return timedelta(seconds=min(2**attempts, settings.FEDERATION_MAX_BACKOFF_SECONDS))


def _request_ids(rows: list[OutgoingRow]) -> list[str]:
    """The distinct request ids of `rows`, in sequence order."""
    return list(dict.fromkeys(r.request_id for r in rows if r.request_id))


def envelope_event(row: OutboxEvent) -> dict[str, Any]:
    """An outbox row as an event of an envelope. Its request id is inside the signed body, so a
    receiver may trust it came from the sender; an event without one (written outside a
    request, or by an older sender) has no `request_id` key, and receivers accept both."""
    event = {"seq": row.seq, "kind": row.kind, "key": row.key, "payload": row.payload}
    if row.request_id:
        event["request_id"] = row.request_id
    return event


def relay_stream(*, stream: str, max_envelopes: int = 50) -> RelayResult:
    """Send what is pending on `stream`, in order, until nothing is left or something fails.

    One envelope is in flight at a time; while the receiver applies it, the next one is read
    and signed here (over HTTP), so the two libraries' work overlaps. The next one is used only
    if the receiver took all of the current one; otherwise it is built again from its mark."""
    result = RelayResult()
    if not _lease(stream):
        return result
    try:
        try:
            peer = peer_get(stream)
        except NotFoundError as exc:
            # Not registered yet (keys not exchanged): the rows wait; the sweep tries again.
            result.error = exc.code
            return result
        adapter = adapter_for(peer)
        state = StreamState.objects.get(stream=stream)
        position = state.sent_seq if adapter.name == "amqp" else state.acked_seq
        learned(stream, state.envelope_size)
        version = envelope_version(adapter.name)
        ahead: Batch | None = None
        batch: Batch | None
        with ThreadPoolExecutor(max_workers=1) as sender:
            for _ in range(max_envelopes):
                if not _lease(stream, renew=True):
                    break  # lost the lease (we stalled past it): another relay owns the stream
                if ahead is not None and ahead.rows[0].seq == position + 1:
                    batch = ahead
                else:
                    batch = next_envelope(stream, position, version=version)
                ahead = None
                if batch is None:
                    break
                rows = batch.rows
                sent_at, started = timezone.now(), time.monotonic()
                sending, ahead = _dispatch(stream, adapter, sender, batch, sent_at)
                try:
                    ack = sending.result() if sending else adapter.send(batch.envelope)
                except ExchangeError as exc:
                    ahead = None
                    if exc.code == "exchange.gap" and exc.expected is not None:
                        position = exc.expected - 1
                        result.acknowledged += _acknowledge(stream, position)
                        continue
                    with transaction.atomic():
                        _fail(stream, rows, exc)
                    took = time.monotonic() - started
                    _resized(stream, batch.size, events=len(rows), seconds=took, failed=True)
                    result.error = f"{exc.code}: {exc.message}"
                    break
                result.envelopes += 1
                result.sent += len(rows)
                if ack is None:  # amqp: published; acknowledged later from status()
                    position = rows[-1].seq
                    StreamState.objects.filter(stream=stream).update(sent_seq=position)
                    continue
                result.acknowledged += _handle_ack(stream, ack, sent_at=sent_at, rows=rows)
                position = ack.high_water_mark
                took = time.monotonic() - started
                _resized(stream, batch.size, events=len(rows), seconds=took, failed=False)
    finally:
        _release(stream)
    return result


def _resized(stream: str, read_with: int, **answer: Any) -> None:
    """The stream's next size (shared.federation.sizing), kept on its row when it changed, so
    the next run starts from it whichever process runs it."""
    size = resize(stream, read_with, **answer)
    if size is not None:
        StreamState.objects.filter(stream=stream).update(envelope_size=size)


def _dispatch(
    stream: str,
    adapter: ExchangeAdapter,
    sender: ThreadPoolExecutor,
    batch: Batch,
    sent_at: datetime,
) -> tuple[Future[Ack | None] | None, Batch | None]:
    """Start sending `batch`: over HTTP in `sender`, returning the call and the next envelope,
    read and signed meanwhile; over AMQP nothing (``relay_stream`` publishes it itself)."""
    if adapter.name == "amqp":
        # Published now, acknowledged later: the rows say so meanwhile. Over HTTP
        # the answer comes back in the same call and one update records both.
        OutboxEvent.objects.filter(pk__in=[r.pk for r in batch.rows]).update(
            state=OutboxEvent.State.SENT, sent_at=sent_at
        )
        return None, None
    sending = sender.submit(adapter.send, batch.envelope, wire=batch.wire)
    return sending, next_envelope(stream, batch.rows[-1].seq, version=batch.version)


def _handle_ack(stream: str, ack: Ack, *, sent_at: datetime, rows: list[OutgoingRow]) -> int:
    if ack.high_water_mark > _numbered(stream):
        # The receiver holds numbers this library never handed out: restored from an older
        # dump without `ops restore`. What was just sent was taken there as duplicates;
        # acknowledging it would lose it. Hold the stream for `federation after-restore`.
        from shared.federation.restore import stream_hold_behind

        stream_hold_behind(stream, receiver_mark=ack.high_water_mark)
        return 0
    count = _acknowledge(stream, ack.high_water_mark, sent_at=sent_at)
    # The receiver's answer names the requests whose changes it took (an older receiver none):
    # a counter's request can be followed from its own log line to the receiver's and back.
    logger.info(
        "exchange.envelope_acknowledged",
        stream=stream,
        first_seq=rows[0].seq,
        last_seq=rows[-1].seq,
        high_water_mark=ack.high_water_mark,
        applied=ack.applied,
        duplicates=ack.duplicates,
        rejected=len(ack.rejected),
        request_ids=list(ack.request_ids),
    )
    for rejected in ack.rejected:
        # The receiver dead-lettered this event (its content cannot be applied there).
        OutboxEvent.objects.filter(stream=stream, seq=rejected.get("seq")).update(  # type: ignore[misc]  # a rejection without a seq matches no row
            state=OutboxEvent.State.DEAD,
            last_error=f"{rejected.get('code')}: {rejected.get('message')}"[:500],
        )
    return count


def _numbered(stream: str) -> int:
    """The last sequence number this library handed out on `stream`."""
    last = StreamCounter.objects.filter(stream=stream).values_list("last", flat=True).first()
    return last or 0


def ack_sync(*, stream: str) -> int:
    """Asynchronous transports: learn the receiver's mark; rewind if sent events were lost."""
    peer = peer_get(stream)
    adapter = adapter_for(peer)
    high_water_mark = adapter.status()
    if high_water_mark > _numbered(stream):  # restored from an older dump: see _handle_ack
        from shared.federation.restore import stream_hold_behind

        stream_hold_behind(stream, receiver_mark=high_water_mark)
        return 0
    count = _acknowledge(stream, high_water_mark)
    stale = timezone.now() - timedelta(seconds=30)
    if OutboxEvent.objects.filter(
        stream=stream, state=OutboxEvent.State.SENT, seq__gt=high_water_mark, sent_at__lt=stale
    ).exists():
        StreamState.objects.filter(stream=stream).update(sent_seq=high_water_mark)
    return count


def resume_from_receiver(*, stream: str) -> int:
    """Ask the receiver where it stands and continue from there (`GET …/exchange/status`)."""
    peer = peer_get(stream)
    high_water_mark = adapter_for(peer).status()
    _acknowledge(stream, high_water_mark)
    return high_water_mark


def envelope_for(*, stream: str, first: int, last: int) -> dict:
    """A freshly signed envelope of outbox events first..last (operators' drills and tests)."""
    kid, key = signing_key()
    rows = OutboxEvent.objects.filter(stream=stream, seq__gte=first, seq__lte=last).order_by("seq")
    return seal(
        key=key,
        kid=kid,
        sender=settings.LIBRARY_CODE,
        receiver=stream,
        stream=stream,
        events=[envelope_event(r) for r in rows],
        now=timezone.now(),
        # a dict to post as JSON: version 3 exists only as an HTTP body with headers
        version=min(settings.FEDERATION_ENVELOPE_VERSION, WIRE_VERSION),
    )


@transaction.atomic
def outbox_retry(
    *, actor: Any = None, stream: str | None = None, ids: list[int] | None = None
) -> int:
    """Operator's retry: failed and dead rows become pending, due now. One audit row
    ("outbox.retry") names what was asked and which rows it put back; none when none."""
    rows = OutboxEvent.objects.filter(state__in=(OutboxEvent.State.FAILED, OutboxEvent.State.DEAD))
    if stream:
        rows = rows.filter(stream=stream)
    if ids:
        rows = rows.filter(pk__in=ids)
    retried = sorted(rows.select_for_update().values_list("pk", flat=True))
    count = OutboxEvent.objects.filter(pk__in=retried).update(
        state=OutboxEvent.State.PENDING, next_attempt_at=timezone.now(), attempts=0
    )
    if count:
        audit_record(
            actor=actor,
            action="outbox.retry",
            target_type="federation.outbox",
            target_id=stream or "*",
            before=None,
            after=None,
            detail={"stream": stream or "", "ids": retried[:1000], "count": count},
        )
    return count
