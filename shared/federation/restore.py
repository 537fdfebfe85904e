"""Putting a library's streams back in step with its peers after a restore (issue #16).

A library restored from an older dump has its sequence counters back where they were at the
dump, while its receivers hold (and acknowledged) events numbered past them. A new event would
then carry a number the receiver already has: ingest counts it as a duplicate and drops it,
and the relay, told the receiver's mark, marks the row acknowledged — lost in silence. So:

- `ops restore` (shared.ops.backup) calls `streams_hold` right after the database is back:
  every stream's lease is taken by ``restored:<dump time>`` for years, so no relay sends;
- `federation after-restore` (`after_restore`) asks each receiver for its mark, moves the
  counter past it, renumbers after it the rows written since the dump (issued before this step
  ran: the receiver never saw them), records the mark as acknowledged, and frees the lease.
  Then the tier recovers what the peer holds that this library lost (`FederationRole.
  after_restore_recover`: a node takes back its own licences issued or changed after the dump
  from the hub's copy). One audit row records what was found and done.

A receiver restored from an older dump needs nothing from its senders: its mark went back,
their next envelope is refused as a gap and they resend from its mark (`relay`); what they
no longer hold in their outboxes, reconciliation has them resend.
"""

import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from shared.audit.services import audit_record
from shared.core.errors import ApplicationError
from shared.exchange.adapters import ExchangeError
from shared.federation.models import OutboxEvent, Peer, StreamCounter, StreamState
from shared.federation.relay import _acknowledge
from shared.federation.roles import role
from shared.federation.transport import adapter_for

logger = logging.getLogger(__name__)

RESTORE_OWNER = "restored:"  # the lease owner that holds a stream until after-restore
HOLD = timedelta(days=3650)


@dataclass(slots=True)
class StreamRealign:
    stream: str
    receiver_mark: int = 0
    counter_before: int = 0
    counter_after: int = 0
    renumbered: int = 0
    error: str = ""


def _peer_streams() -> list[Peer]:
    return list(Peer.objects.filter(active=True).exclude(code=settings.LIBRARY_CODE))


def streams_hold(*, dumped_at: datetime) -> list[str]:
    """Hold every peer's stream (no relay may send on it) until `after_restore` realigns it;
    `dumped_at`: when the restored dump was taken (rows written later are renumbered)."""
    codes = [peer.code for peer in _peer_streams()]
    StreamState.objects.bulk_create(
        [StreamState(stream=code) for code in codes], ignore_conflicts=True
    )
    StreamState.objects.filter(stream__in=codes).update(
        lease_owner=f"{RESTORE_OWNER}{dumped_at.isoformat()}"[:64],
        lease_until=timezone.now() + HOLD,
        last_error="restore.pending: 已从备份恢复，须执行 federation after-restore",
        last_error_at=timezone.now(),
    )
    return codes


def stream_hold_behind(stream: str, *, receiver_mark: int) -> None:
    """The relay found the receiver past every number this library handed out on `stream`
    (a restore without `ops restore`): hold the stream as `streams_hold` would. The dump time
    is not known; the newest acknowledged row's is the latest it can be, so what was written
    after it and not acknowledged is renumbered by `after_restore` (a row the receiver did
    hold is then applied there twice, which changes nothing: apply is idempotent)."""
    newest = (
        OutboxEvent.objects.filter(stream=stream, state=OutboxEvent.State.ACKNOWLEDGED)
        .order_by("-seq")
        .values_list("created_at", flat=True)
        .first()
    )
    dumped_at = newest or datetime(2000, 1, 1, tzinfo=UTC)
    StreamState.objects.filter(stream=stream).update(
        lease_owner=f"{RESTORE_OWNER}{dumped_at.isoformat()}"[:64],
        lease_until=timezone.now() + HOLD,
        last_error=(
            f"federation.sender_behind: 接收方高水位 {receiver_mark} 超过本库已分配的序号"
            "（本库可能从旧备份恢复），已暂停投递，请执行 federation after-restore"
        ),
        last_error_at=timezone.now(),
    )
    logger.error("federation.sender_behind stream=%s receiver_mark=%s", stream, receiver_mark)


def held_streams() -> dict[str, datetime]:
    """The streams `streams_hold` holds, with the dump time it recorded."""
    return {
        s.stream: datetime.fromisoformat(s.lease_owner.removeprefix(RESTORE_OWNER))
        for s in StreamState.objects.filter(lease_owner__startswith=RESTORE_OWNER)
    }


def _renumber(stream: str, ids: list[int], start: int) -> None:
    """Give rows `ids` the numbers start+1… in their order (unique per stream: via negatives)."""
    for i, pk in enumerate(ids, start=1):
        OutboxEvent.objects.filter(pk=pk).update(seq=-i)
    for i, pk in enumerate(ids, start=1):
        OutboxEvent.objects.filter(pk=pk).update(
            seq=start + i,
            state=OutboxEvent.State.PENDING,
            next_attempt_at=timezone.now(),
            attempts=0,
        )


def stream_realign(peer: Peer, *, dumped_at: datetime | None) -> StreamRealign:
    """Move stream `peer.code` past the receiver's mark; see the module docstring."""
    result = StreamRealign(stream=peer.code)
    result.receiver_mark = mark = adapter_for(peer).status()
    with transaction.atomic():
        StreamCounter.objects.bulk_create([StreamCounter(stream=peer.code)], ignore_conflicts=True)
        counter = StreamCounter.objects.select_for_update().get(stream=peer.code)
        result.counter_before = counter.last
        fresh = []
        if dumped_at is not None:
            fresh = list(  # ids only: their payloads stay in the database
                OutboxEvent.objects.filter(stream=peer.code, created_at__gt=dumped_at)
                .exclude(state=OutboxEvent.State.ACKNOWLEDGED)
                .order_by("seq")
                .values_list("pk", flat=True)
            )
        base = max(mark, counter.last - len(fresh))
        _renumber(peer.code, fresh, base)
        counter.last = base + len(fresh)
        counter.save(update_fields=["last"])
        result.counter_after, result.renumbered = counter.last, len(fresh)
        # Rows up to the mark the receiver holds (numbered before the dump, so the same events);
        # below a mark that went back (the receiver restored too) the relay resends.
        _acknowledge(peer.code, mark)
        StreamState.objects.filter(stream=peer.code).update(
            lease_owner="", lease_until=None, last_error=""
        )
    return result


def after_restore(*, actor: Any = None, recover: bool = True) -> dict[str, Any]:
    """Realign every peer's stream, then recover from the peers what they hold that this
    library lost (the tier decides what); audited. A peer that cannot be reached leaves its
    stream held and is reported: run the step again."""
    held = held_streams()
    streams: list[StreamRealign] = []
    for peer in _peer_streams():
        try:
            streams.append(stream_realign(peer, dumped_at=held.get(peer.code)))
        except (ExchangeError, ApplicationError) as exc:
            streams.append(StreamRealign(stream=peer.code, error=f"{exc.code}: {exc}"[:300]))
    recovered: dict[str, Any] = {}
    if recover and not any(s.error for s in streams):
        try:
            recovered = role().after_restore_recover()
        except ApplicationError as exc:
            recovered = {"error": f"{exc.code}: {exc.message}"[:300]}
    report = {"streams": [asdict(s) for s in streams], "recovered": recovered}
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="federation.after_restore",
            target_type="federation.stream",
            target_id="*",
            before=None,
            after=None,
            detail=report,
        )
    return report
