"""What a web process loads before its first request, not during it.

Django imports the URLconf, and with it every view, serializer and library the views name
(openpyxl for spreadsheet uploads among them), on the first request that resolves a URL. In a
gunicorn worker that is the first request each worker takes after a start: measured at the hub
draining a backlog after an outage (bench/sync), 41 % of the drain's request time went to those
imports, while the worker's other threads waited on the import lock."""

import time

import structlog
from django.urls import get_resolver

log = structlog.get_logger(__name__)


def warm_up() -> None:
    """Called by each tier's WSGI module once the application is built."""
    started = time.perf_counter()
    patterns = get_resolver().url_patterns  # imports the URLconf and everything it names
    log.info(
        "web.warmed_up",
        url_patterns=len(patterns),
        duration_ms=round((time.perf_counter() - started) * 1000, 1),
    )
