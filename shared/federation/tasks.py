"""Thin federation tasks: take a stream or peer code, call one service, safe to run twice."""

import logging

from celery import shared_task
from django.conf import settings

from shared.federation import relay
from shared.federation.models import OutboxEvent, Peer
from shared.federation.reconciliation import reconcile_run
from shared.federation.roles import role

log = logging.getLogger(__name__)


@shared_task(name="federation.relay_stream", acks_late=True)
def relay_stream(stream: str) -> dict[str, int | str]:
    result = relay.relay_stream(stream=stream)
    return {"sent": result.sent, "acknowledged": result.acknowledged, "error": result.error}


@shared_task(name="federation.relay_sweep")
def relay_sweep() -> int:
    """Beat: every stream with something unacknowledged gets a relay run (lost kicks, backoff
    expiry), and asynchronous transports learn what the receiver acknowledged."""
    # One probe of the (stream, state, seq) index per active peer: after an outage a stream
    # may hold millions of unacknowledged rows, which a DISTINCT over them would read whole.
    waiting = OutboxEvent.objects.exclude(
        state__in=(OutboxEvent.State.ACKNOWLEDGED, OutboxEvent.State.DEAD)
    )
    peers = Peer.objects.filter(active=True).order_by("code").values_list("code", flat=True)
    streams = [code for code in peers if waiting.filter(stream=code).exists()]
    for stream in streams:
        if settings.FEDERATION_ADAPTER == "amqp":
            try:
                relay.ack_sync(stream=stream)
            except Exception:  # the next sweep tries again
                log.warning("ack sync failed for stream %s", stream, exc_info=True)
        relay_stream.delay(stream)
    return len(streams)


@shared_task(name="federation.reconcile_all")
def reconcile_all() -> int:
    """Beat: the hub compares itself with every active city, a node with the hub."""
    codes = role().reconcile_peers()
    for code in codes:
        reconcile_peer.delay(code)
    return len(codes)


@shared_task(name="federation.reconcile_peer", acks_late=True)
def reconcile_peer(peer_code: str) -> int:
    return reconcile_run(peer_code=peer_code, trigger="beat").differences
