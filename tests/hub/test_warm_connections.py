"""A gunicorn worker's threads open their database connections before the first request, each
having planned a lookup on every partitioned table (shared.ops.warmup.warm_threads, called
from gunicorn.conf.py): a new PostgreSQL backend loads a partitioned table's leaves on the
first statement that touches it, which a restarted hub's first envelopes paid on every thread."""

import threading
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
from django.db import connection, connections

from shared.ops.warmup import warm_connection, warm_threads
from tests.log_capture import captured

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 3


def partitioned_roots() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
            "WHERE NOT c.relispartition"
        )
        return {name for (name,) in cursor.fetchall()}


def test_every_partitioned_table_of_the_hub_is_planned():
    roots = partitioned_roots()
    # licences, versions and events, partitioned by city then time at the hub
    assert {"licenses_license", "licenses_licenseversion", "licenses_licenseevent"} <= roots
    assert warm_connection() == len(roots)


def test_each_thread_of_a_threaded_worker_holds_a_warm_connection_before_any_request():
    pool = ThreadPoolExecutor(max_workers=THREADS)
    worker = SimpleNamespace(tpool=pool, cfg=SimpleNamespace(threads=THREADS))
    try:
        with captured() as lines:
            warm_threads(worker)
        [warmed] = lines.events("web.connections_warmed")
        assert (warmed["threads"], warmed["tables"]) == (THREADS, len(partitioned_roots()))
        # One task per thread (they meet at the barrier): each finds its thread's connection
        # open already, opened by the warm-up, and closes it.
        barrier = threading.Barrier(THREADS)

        def connection_was_open() -> tuple[int, bool]:
            barrier.wait(timeout=10)
            found = connection.connection is not None
            connections.close_all()
            return threading.get_ident(), found

        answers = [f.result() for f in [pool.submit(connection_was_open) for _ in range(THREADS)]]
        assert len({ident for ident, _ in answers}) == THREADS
        assert all(found for _, found in answers)
    finally:
        pool.shutdown(wait=True)


def test_a_sync_worker_warms_the_connection_of_the_thread_that_serves():
    """gunicorn's sync worker (no thread pool) serves on the thread that runs the hook."""
    answers = []

    def hook() -> None:
        connections.close_all()
        with captured() as lines:
            warm_threads(SimpleNamespace(cfg=SimpleNamespace(threads=1)))
        answers.append((lines.events("web.connections_warmed"), connection.connection is not None))
        connections.close_all()

    thread = threading.Thread(target=hook)
    thread.start()
    thread.join(timeout=60)
    [(events, open_after)] = answers
    assert [(e["threads"], e["tables"]) for e in events] == [(1, len(partitioned_roots()))]
    assert open_after
