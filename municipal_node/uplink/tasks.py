"""Thin node tasks (the name predates the move and stays: beat rows name it)."""

import logging
from typing import Any

from celery import shared_task
from celery.signals import beat_init

from municipal_node.uplink.checkpoints import checkpoint_forward
from municipal_node.uplink.trust import trust_keys_forward, trust_list_fetch
from shared.core.errors import ApplicationError

logger = logging.getLogger(__name__)


@shared_task(name="federation.forward_checkpoint")
def forward_checkpoint() -> int | None:
    return checkpoint_forward()


@shared_task(name="trust.send_keys")
def send_trust_keys() -> bool:
    """Beat: this library's trust material up to the hub, if it changed since last sent."""
    return trust_keys_forward()


@shared_task(name="trust.fetch_list")
def fetch_trust_list() -> bool:
    """Beat: the hub's signed provincial trust list (a failure is recorded on the cached row's
    `last_error`; the next beat tries again)."""
    try:
        return trust_list_fetch()
    except ApplicationError as exc:
        logger.warning("trust_list.fetch_failed %s %s", exc.code, exc.message)
        return False


@beat_init.connect
def _trust_at_start(sender: Any = None, **_: Any) -> None:
    # At start, not only after the first beat interval: keys up, the province's list down.
    send_trust_keys.delay()
    fetch_trust_list.delay()
