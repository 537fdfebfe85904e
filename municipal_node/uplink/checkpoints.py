"""Access-log checkpoints travel to the hub on the federation stream (DESIGN §7).

A node signs checkpoints of its access log (`shared.access.log`); each new one goes up the
stream with a consistency proof from the last one it sent, and the hub witnesses it
(`provincial_hub.aggregation.witness`): a node that rewrote its history cannot present a tree that extends
what the hub has already seen.
"""

from django.conf import settings
from django.db import transaction

from shared.access import log
from shared.federation.models import OutboxEvent
from shared.federation.outbox import outbox_write

KIND = "access.checkpoint"


def checkpoint_forward() -> int | None:
    """Send the newest checkpoint up if the tree grew since the last one sent; its tree size."""
    checkpoint = log.checkpoint_create()
    if checkpoint is None:
        return None
    hub = settings.FEDERATION_HUB_CODE
    with transaction.atomic():
        last = (
            OutboxEvent.objects.select_for_update()
            .filter(stream=hub, kind=KIND)
            .order_by("-seq")
            .first()
        )
        sent = int(last.payload["checkpoint"]["tree_size"]) if last else 0
        if checkpoint.tree_size <= sent:
            return sent
        document = log.checkpoint_export(from_size=sent, checkpoint=checkpoint)
        outbox_write(
            stream=hub,
            kind=KIND,
            key=f"checkpoint:{checkpoint.tree_size}",
            payload={"schema": 1, "checkpoint": document},
        )
    return checkpoint.tree_size
