"""Settings of GET /metrics (issue #16 item 2; docs/operations.md 监控): django-prometheus's
request, database and cache metrics beside the project's own collectors. shared.conf.base
star-imports this module and wraps its MIDDLEWARE with `middleware_first` and `middleware_last`
(lower case, so not settings themselves).

Several gunicorn workers answer /metrics in turn: with PROMETHEUS_MULTIPROC_DIR set (read by
prometheus_client itself, before any metric exists) each worker writes its counters to files in
that directory and every scrape adds them all up; without it a scrape shows only the worker that
answered. The directory must be empty when the web server starts (the systemd unit gets a fresh
RuntimeDirectory; the demo runs one worker per library and leaves it unset). The project's own numbers never depend on it: they are
read from the database and the broker at scrape time.
"""

import os
from pathlib import Path

from shared.conf.env import ImproperlyConfiguredError, env

apps = ["django_prometheus"]
# The client library reads the variable itself when first imported (before these settings), and
# takes it as set even when empty: then it writes its files into the working directory. Such a
# value, or a directory that is not there, stops the process here instead.
PROMETHEUS_MULTIPROC_DIR = env("PROMETHEUS_MULTIPROC_DIR", "")
if "PROMETHEUS_MULTIPROC_DIR" in os.environ and not (
    PROMETHEUS_MULTIPROC_DIR and Path(PROMETHEUS_MULTIPROC_DIR).is_dir()
):
    raise ImproperlyConfiguredError(
        f"PROMETHEUS_MULTIPROC_DIR={PROMETHEUS_MULTIPROC_DIR!r} 不是已存在的目录; "
        "must name an existing (empty at start) directory, or be unset"
    )
# Outermost and innermost: the latency covers every other middleware, the view name is known.
middleware_first = "django_prometheus.middleware.PrometheusBeforeMiddleware"
middleware_last = "django_prometheus.middleware.PrometheusAfterMiddleware"

# Per-process memory, as Django's default, counted (django_prometheus.cache: gets, hits, misses).
CACHES = {"default": {"BACKEND": "django_prometheus.cache.backends.locmem.LocMemCache"}}

# The collectors a scrape runs (shared.ops.metrics), each a class with `collect()`.
METRICS_COLLECTORS = [
    "shared.ops.metrics.FederationCollector",
    "shared.ops.work.ReconciliationCollector",
    "shared.ops.work.SigningCollector",
    "shared.ops.deadlines.DeadlineCollector",
]
# What has an answer deadline (elicense_deadlines_*): kind → a function counting, per library
# that must answer, the open items due by the next working day and those already overdue. A
# tier's settings add its own (the hub's rectification notices, a city's copies of them).
METRICS_DEADLINE_SOURCES = {"review": "shared.ops.deadlines.review_deadlines"}
# A scrape waits this long for the broker (queue lengths) before it reports -1.
METRICS_BROKER_TIMEOUT = 0.5
