"""What the ops layer listens to: Celery's task signals, so a task's lines carry the id of the
request that queued it, and Celery's logging set-up, so workers keep `settings.LOGGING`. Wired
by `OpsConfig.ready()`, as every app wires its receivers (the convention: shared.core.effects)."""

from contextvars import Token
from typing import Any

import structlog
from celery.signals import before_task_publish, setup_logging, task_postrun, task_prerun

from shared.audit.context import (
    current_request_id,
    plain_request_id,
    request_id_reset,
    request_id_set,
)

HEADER = "request_id"  # the task message header that carries it
_bound: dict[str, Token[str]] = {}  # task id -> the token that undoes its binding


def publish_with_request_id(headers: dict[str, Any] | None = None, **_: Any) -> None:
    """A task queued while a request (or a task of one) runs carries that request's id."""
    request_id = current_request_id()
    if request_id and headers is not None:
        headers.setdefault(HEADER, request_id)


def bind_task(task_id: str = "", task: Any = None, **_: Any) -> None:
    # Celery copies a message's headers onto `task.request`. A task run eagerly inside a
    # request (no message) keeps the request's id.
    given = plain_request_id(getattr(getattr(task, "request", None), HEADER, None))
    _bound[task_id] = request_id_set(given or current_request_id())
    structlog.contextvars.bind_contextvars(task=getattr(task, "name", ""), task_id=task_id)


def unbind_task(task_id: str = "", **_: Any) -> None:
    token = _bound.pop(task_id, None)
    if token is not None:
        request_id_reset(token)
    structlog.contextvars.unbind_contextvars("task", "task_id")


def keep_django_logging(**_: Any) -> None:
    """Connected, so Celery leaves logging alone: without a receiver a worker replaces the root
    handlers with its own plain-text format. LOG_LEVEL, not `--loglevel`, sets the level."""


def connect() -> None:
    before_task_publish.connect(
        publish_with_request_id, weak=False, dispatch_uid="ops.request_id_publish"
    )
    task_prerun.connect(bind_task, weak=False, dispatch_uid="ops.request_id_prerun")
    task_postrun.connect(unbind_task, weak=False, dispatch_uid="ops.request_id_postrun")
    setup_logging.connect(keep_django_logging, weak=False, dispatch_uid="ops.setup_logging")
