"""Thin federation tasks: take a stream or peer code, call one service, safe to run twice."""

import logging

from celery import shared_task
from django.conf import settings

from shared.federation import relay
from shared.federation.models import OutboxEvent, Peer
from shared.federation.reconciliation import reconcile_run

log = logging.getLogger(__name__)


@shared_task(name="federation.relay_stream", acks_late=True)
def relay_stream(stream: str) -> dict[str, int | str]:
    result = relay.relay_stream(stream=stream)
    return {"sent": result.sent, "acknowledged": result.acknowledged, "error": result.error}


@shared_task(name="federation.relay_sweep")
def relay_sweep() -> int:
    """Beat: every stream with something unacknowledged gets a relay run (lost kicks, backoff
    expiry), and asynchronous transports learn what the receiver acknowledged."""
    streams = set(
        OutboxEvent.objects.exclude(
            state__in=(OutboxEvent.State.ACKNOWLEDGED, OutboxEvent.State.DEAD)
        ).values_list("stream", flat=True)
    )
    for stream in streams:
        if not Peer.objects.filter(code=stream, active=True).exists():
            continue
        if settings.FEDERATION_ADAPTER == "amqp":
            try:
                relay.ack_sync(stream=stream)
            except Exception:  # the next sweep tries again
                log.warning("ack sync failed for stream %s", stream, exc_info=True)
        relay_stream.delay(stream)
    return len(streams)


@shared_task(name="federation.reconcile_all")
def reconcile_all() -> int:
    if settings.LIBRARY_TIER == "hub":
        codes = list(
            Peer.objects.filter(active=True)
            .exclude(code=settings.LIBRARY_CODE)
            .values_list("code", flat=True)
        )
    else:
        codes = (
            [settings.FEDERATION_HUB_CODE]
            if Peer.objects.filter(code=settings.FEDERATION_HUB_CODE, active=True).exists()
            else []
        )
    for code in codes:
        reconcile_peer.delay(code)
    return len(codes)


@shared_task(name="federation.reconcile_peer", acks_late=True)
def reconcile_peer(peer_code: str) -> int:
    return reconcile_run(peer_code=peer_code, trigger="beat").differences


@shared_task(name="federation.forward_checkpoint")
def forward_checkpoint() -> int | None:
    from shared.federation.checkpoints import checkpoint_forward

    return checkpoint_forward()


@shared_task(name="federation.fetch_file", acks_late=True)
def fetch_remote_file(file_id: int) -> str:
    """Fetch one city file by digest; failures are recorded on the row (the sweep retries)."""
    from shared.federation.files import remote_file_fetch

    return remote_file_fetch(file_id=file_id).state


@shared_task(name="federation.fetch_files_sweep")
def fetch_files_sweep() -> int:
    """Beat: pending fetches whose task was lost, failed ones whose back-off has passed."""
    from shared.federation.files import remote_file_sweep

    ids = remote_file_sweep() if settings.LIBRARY_TIER == "hub" else []
    for file_id in ids:
        fetch_remote_file.delay(file_id)
    return len(ids)
