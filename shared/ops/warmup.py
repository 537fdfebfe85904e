"""What a web process loads before its first request, not during it.

Django imports the URLconf, and with it every view, serializer and library the views name
(openpyxl for spreadsheet uploads among them), on the first request that resolves a URL. In a
gunicorn worker that is the first request each worker takes after a start: measured at the hub
draining a backlog after an outage (bench/sync), 41 % of the drain's request time went to those
imports, while the worker's other threads waited on the import lock.

Each thread of a gunicorn worker then opens its database connection before the first request
(`warm_threads`, gunicorn's `post_worker_init` in gunicorn.conf.py), and plans a lookup on every
partitioned table with it, so that no envelope pays for a new backend's catalogue. The
connections live DB_CONN_MAX_AGE (300 s), as any: this warms a start, not every reconnection."""

import gc
import time
from concurrent.futures import wait
from typing import Any

import structlog
from django.urls import get_resolver

log = structlog.get_logger(__name__)


def warm_up() -> None:
    """Called by each tier's WSGI module once the application is built."""
    started = time.perf_counter()
    patterns = get_resolver().url_patterns  # imports the URLconf and everything it names
    # What is loaded now lives as long as the process: out of every later full collection
    # (shared.core.gc_pause), which otherwise walked these ~200,000 objects each time.
    gc.collect()
    gc.freeze()
    log.info(
        "web.warmed_up",
        frozen_objects=gc.get_freeze_count(),
        url_patterns=len(patterns),
        duration_ms=round((time.perf_counter() - started) * 1000, 1),
    )


# Each PostgreSQL backend loads the catalogue of a partitioned table's leaves the first time a
# statement touches it: measured at the hub (57 leaves for licences alone), a first lookup took
# 13-26 ms where the same lookup took 3-6 ms on the same connection after. A restarted hub's
# first envelopes paid that on every thread's new connection.
_PARTITIONED = (
    "SELECT c.relname, a.attname FROM pg_partitioned_table p "
    "JOIN pg_class c ON c.oid = p.partrelid "
    "JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary "
    "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0] "
    "WHERE NOT c.relispartition"
)


def warm_connection() -> int:
    """Open this thread's database connection and plan a lookup on every partitioned table
    that is not itself a partition (which loads its leaves into the backend's caches): the
    number of tables planned. Nothing on other databases than PostgreSQL."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return 0
    with connection.cursor() as cursor:
        cursor.execute(_PARTITIONED)
        tables = cursor.fetchall()
        for table, column in tables:
            quote = connection.ops.quote_name
            cursor.execute(
                f"EXPLAIN SELECT 1 FROM {quote(table)} WHERE {quote(column)} = ANY(%s)",  # noqa: S608 - catalogue names
                [[0]],
            )
    return len(tables)


def warm_threads(worker: Any) -> None:
    """gunicorn's `post_worker_init` (gunicorn.conf.py): a threaded worker opens one warm
    connection per thread of its pool before its first request. The tasks are submitted at
    once, so the pool starts a thread for each (it reuses a thread only when one is idle). A
    sync worker (the hub's exchange pool) serves on the thread that runs this hook: it warms
    that thread's connection."""
    pool = getattr(worker, "tpool", None)
    threads = getattr(getattr(worker, "cfg", None), "threads", 1) if pool is not None else 1
    started = time.perf_counter()
    if pool is None:
        counts = [_warm_quietly()]
    else:
        done = [pool.submit(_warm_quietly) for _ in range(threads)]
        finished, late = wait(done, timeout=60)
        if late:  # a database that hangs: serve anyway, the late threads finish on their own
            log.warning("web.connection_warm_late", threads=len(late))
        counts = [future.result() for future in finished]
    log.info(
        "web.connections_warmed",
        threads=threads,
        tables=max(counts, default=0),
        duration_ms=round((time.perf_counter() - started) * 1000, 1),
    )


def _warm_quietly() -> int:
    """A failure (the database not up yet) costs the first request its warmth, nothing more."""
    try:
        return warm_connection()
    except Exception:  # noqa: BLE001 - logged; serving starts anyway
        log.warning("web.connection_warm_failed", exc_info=True)
        return 0
