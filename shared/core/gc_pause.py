"""Python's cyclic garbage collector held off while one call builds a large, short-lived graph.

An exchange envelope of 1,000 licences parses into some 100,000 dicts and lists, and applying
it builds as many rows again. Each of those allocations counts towards the collector's next
run, and the runs that reach the oldest generation walk every object the process holds (the
application's own ~200,000 and the envelope's): measured on an envelope-shaped workload in a
hub process, 730 of 897 ms went to collections (bench/sync's hub was spending most of its web
CPU there). Nearly all of it is acyclic and freed by reference counting the moment the request
drops it; the collector runs again once the last paused call has returned.

`gc.freeze()` once the application is loaded (`shared.ops.warmup`) keeps the application's own
objects out of every later full collection, for every request.
"""

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_holders = 0  # calls inside `collection_paused` now, across the process's threads
_enabled_before = False


@contextmanager
def collection_paused() -> Iterator[None]:
    """No cyclic collection until the last of the calls inside this has returned (a threaded
    worker's other requests run without it meanwhile; reference counting still frees)."""
    global _holders, _enabled_before
    with _lock:
        if _holders == 0:
            _enabled_before = gc.isenabled()
            gc.disable()
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _enabled_before:
                gc.enable()
