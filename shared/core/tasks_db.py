"""Database connections in Celery workers, handled as Django handles them for requests.

Celery's Django fixup closes every connection before and after each task unless
`CELERY_DB_REUSE_MAX` is set, so a worker opened a new PostgreSQL connection (a backend fork
and an authentication) for every task — a quarter of a signing task's time. With reuse on,
these handlers do what Django does at the start and end of a request: drop a connection that
is broken or older than CONN_MAX_AGE and health-check the next use (CONN_HEALTH_CHECKS), so a
database restart costs one failed attempt, not a worker full of dead connections.
"""

from typing import Any

from django.db import close_old_connections


def _close_old(task: Any) -> None:
    # An eager task (`.apply()`, tests) runs inside its caller's work, maybe its transaction:
    # that connection is the caller's to keep, as Celery's own fixup leaves it.
    if task is not None and getattr(task.request, "is_eager", False):
        return
    close_old_connections()


def before_task(task: Any = None, **_: Any) -> None:
    """`task_prerun` receiver (connected by `shared.core.receivers`)."""
    _close_old(task)


def after_task(task: Any = None, **_: Any) -> None:
    """`task_postrun` receiver (connected by `shared.core.receivers`)."""
    _close_old(task)
