"""Thin node tasks (the name predates the move and stays: beat rows name it)."""

from celery import shared_task

from municipal_node.uplink.checkpoints import checkpoint_forward


@shared_task(name="federation.forward_checkpoint")
def forward_checkpoint() -> int | None:
    return checkpoint_forward()
