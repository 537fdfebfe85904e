"""Side effects of a change, made one way each so a reader finds them: receivers and tasks.

Receivers. Every app wires the signals it listens to the same way:
- `<app>/signals.py` declares only the signals the app sends, each with its contract (when it
  is sent, inside which transaction, with which arguments);
- `<app>/receivers.py` has one `connect()` that connects each of the app's handlers to a signal
  (another app's, Django's or Celery's) with a `dispatch_uid`; a handler lives there when it
  only forwards to a service;
- `<App>Config.ready()` calls `receivers.connect()`, and nothing else connects anything: no
  `@receiver` decorators, no connection as a side effect of an import. One function lists all
  an app listens to, and it runs once, when Django is set up (web, worker and tests alike).

Tasks. Work a change asks for (render a file, run a batch, relay the outbox) is queued with
`enqueue_on_commit`, never with `.delay()` inside a transaction nor with
`transaction.on_commit` or Celery's `delay_on_commit` by hand: it is queued when the outermost
transaction commits (not at all if it rolls back; the worker always finds the rows it is
named), and a broker outage is logged, not raised: the row that asked for the work is in the
database already and the beat sweep of its kind queues it again (STYLE habits 3 and 5).
"""

import logging
import time
from functools import partial
from typing import Any

from django.db import transaction

logger = logging.getLogger(__name__)

# Coalescing windows per (task name, arguments): when the current one ends, and whether a run
# at its end is queued already. Per process, like the kicks they thin out.
_window_end: dict[tuple[str, tuple[Any, ...]], float] = {}
_trailing: set[tuple[str, tuple[Any, ...]]] = set()


def enqueue(task: Any, *args: Any, countdown: float | None = None) -> bool:
    """Queue `task(*args)` now; False (logged) when the broker cannot take it."""
    try:
        task.apply_async(args, countdown=countdown)
    except Exception:  # noqa: BLE001 - kombu raises many kinds; the sweep queues it again
        logger.warning("could not queue %s%r; its sweep will", task.name, args, exc_info=True)
        return False
    return True


def enqueue_on_commit(task: Any, *args: Any, coalesce: float = 0.0) -> None:
    """Queue `task(*args)` once the current transaction commits (at once outside of one).

    `coalesce` (seconds): at most one run at once and one more at the end of each window for
    the same task and arguments, for kicks that many commits a second would repeat (a run does
    what all of them asked: the relay sends everything committed so far)."""
    transaction.on_commit(partial(_after_commit, task, args, coalesce))


def _after_commit(task: Any, args: tuple[Any, ...], coalesce: float) -> None:
    if not coalesce:
        enqueue(task, *args)
        return
    key, now = (task.name, args), time.monotonic()
    if now >= _window_end.get(key, 0.0):
        _window_end[key] = now + coalesce
        _trailing.discard(key)
        enqueue(task, *args)
    elif key not in _trailing:
        _trailing.add(key)
        enqueue(task, *args, countdown=_window_end[key] - now)


def forget_windows() -> None:
    """Close every coalescing window of this process: a queue purged under it (tests) took the
    trailing runs it counts on."""
    _window_end.clear()
    _trailing.clear()
