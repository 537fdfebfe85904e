"""Settings of GET /metrics (issue #16 item 2; docs/operations.md 监控): django-prometheus's
request, database and cache metrics beside the project's own collectors. shared.conf.base
star-imports this module and wraps its MIDDLEWARE with `middleware_first` and `middleware_last`
(lower case, so not settings themselves).

Several gunicorn workers answer /metrics in turn: with PROMETHEUS_MULTIPROC_DIR set (read by
prometheus_client itself, before any metric exists) each worker writes its counters to files in
that directory and every scrape adds them all up; without it a scrape shows only the worker that
answered. The directory must be empty when the web server starts (the systemd unit gets a fresh
RuntimeDirectory; the demo empties it). The project's own numbers never depend on it: they are
read from the database and the broker at scrape time.
"""

from shared.conf.env import env

apps = ["django_prometheus"]
# Read here only to be named in docs/environment.md and known to shared.ops.metrics: the client
# library reads the variable itself when first imported (before these settings).
PROMETHEUS_MULTIPROC_DIR = env("PROMETHEUS_MULTIPROC_DIR", "")
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
