"""The provincial hub: the provincial library that also aggregates the cities."""

from celery.schedules import crontab

from shared.conf.base import *  # noqa: F403
from shared.conf.base import INSTALLED_APPS  # named: extended below
from shared.conf.divisions import PROVINCE_CODE, PROVINCE_NAME
from shared.conf.env import (
    broker_url,
    celery_queues,
    database_config,
    env,
    env_int,
    replica_config,
)

LIBRARY_TIER = "hub"
LIBRARY_CODE = PROVINCE_CODE
LIBRARY_NAME = f"{PROVINCE_NAME}电子证照库"

ROOT_URLCONF = "provincial_hub.urls"
WSGI_APPLICATION = "provincial_hub.wsgi.application"
DATABASES = {"default": database_config("hub")}
# A streaming standby of `default` (docs/operations.md 高可用): the statistics and the console's
# charts read it, so their scans of a month's counters or a day's arrivals leave the primary to
# ingest. Unset: those reads stay on `default`.
if env("DATABASE_REPLICA_URL"):
    DATABASES["replica"] = replica_config(env("DATABASE_REPLICA_URL"))
    STALE_READS_DATABASE = "replica"
CELERY_BROKER_URL, CELERY_BROKER_TRANSPORT_OPTIONS = broker_url("hub")
CELERY_RESULT_BACKEND = None
# The hub's Celery on RabbitMQ (docs/operations.md 高可用): CELERY_BROKER_URL=amqp://… takes the
# broker from REDIS_URL, which keeps the rate limits' counters; CELERY_QUEUE_TYPE=quorum declares
# the task queues as quorum queues, replicated over the RabbitMQ cluster.
if env("CELERY_BROKER_URL"):
    CELERY_BROKER_URL, CELERY_BROKER_TRANSPORT_OPTIONS = env("CELERY_BROKER_URL"), {}
    RATE_LIMIT_REDIS_URL = env("REDIS_URL")
globals().update(celery_queues(env("CELERY_QUEUE_TYPE", "classic")))

# What only the province does: aggregate the cities (provincial_hub.aggregation).
# Listed before the shared apps, as at a node (Django takes a command from the first app).
_shared_apps = INSTALLED_APPS.index("shared.core")  # noqa: F405
INSTALLED_APPS = [
    *INSTALLED_APPS[:_shared_apps],  # noqa: F405
    "provincial_hub.aggregation",
    "provincial_hub.compliance",
    "provincial_hub.console",
    "provincial_hub.watch",  # 持证人监视: matching (issue #14 item 5)
    *INSTALLED_APPS[_shared_apps:],  # noqa: F405
]
# The province's statistics count the licences of every city, not only its own.
STATISTICS_ALL_LIBRARIES = True
# A copy, not shared.conf.base's dict: one tier's entries never reach the other's.
CELERY_BEAT_SCHEDULE = {
    **CELERY_BEAT_SCHEDULE,  # noqa: F405
    "federation-fetch-files": {
        "task": "federation.fetch_files_sweep",
        "schedule": FEDERATION_FILE_SWEEP_SECONDS,  # noqa: F405
    },
    # the sector libraries' call records (their health) older than SECTOR_CALLS_KEEP_DAYS
    "aggregation-sector-calls-purge": {
        "task": "aggregation.sector_calls_purge",
        "schedule": crontab(hour=3, minute=10),
    },
    "trust-publish-list": {
        "task": "trust.publish_list",
        "schedule": TRUST_LIST_FETCH_SECONDS,  # noqa: F405
    },
    # next year's partitions of the licence tables (provincial_hub.aggregation.partitions)
    "aggregation-partitions-ahead": {
        "task": "aggregation.partitions_ahead",
        "schedule": crontab(day_of_month=1, hour=2, minute=40),
    },
}
SECTOR_CALLS_KEEP_DAYS = env_int("SECTOR_CALLS_KEEP_DAYS", 90)

# Compliance (art. 31, 33; provincial_hub.compliance): the rules evaluated every day, and the
# escalation of notices not answered by their deadline to public criticism.
COMPLIANCE_NOTICE_DEADLINE_DAYS = env_int("COMPLIANCE_NOTICE_DEADLINE_DAYS", 10)  # working days
COMPLIANCE_CATALOG_STALE_DAYS = env_int("COMPLIANCE_CATALOG_STALE_DAYS", 365)
COMPLIANCE_LATE_WINDOW_DAYS = env_int("COMPLIANCE_LATE_WINDOW_DAYS", 30)
COMPLIANCE_LATE_MIN_COUNT = env_int("COMPLIANCE_LATE_MIN_COUNT", 5)  # late arrivals at least
COMPLIANCE_LATE_RATIO = float(env("COMPLIANCE_LATE_RATIO", "0.05"))  # and above this share
COMPLIANCE_REVIEWS_OVERDUE_MIN = env_int("COMPLIANCE_REVIEWS_OVERDUE_MIN", 1)
COMPLIANCE_INSPECTION_BACKLOG_DAYS = env_int("COMPLIANCE_INSPECTION_BACKLOG_DAYS", 20)  # working
COMPLIANCE_INSPECTION_BACKLOG_MIN = env_int("COMPLIANCE_INSPECTION_BACKLOG_MIN", 1)
CELERY_BEAT_SCHEDULE["compliance-evaluate"] = {
    "task": "compliance.evaluate",
    "schedule": crontab(hour=env_int("COMPLIANCE_EVALUATE_HOUR", 1), minute=30),
}
CELERY_BEAT_SCHEDULE["compliance-escalate"] = {
    "task": "compliance.escalate",
    "schedule": env_int("COMPLIANCE_ESCALATE_SECONDS", 3600),
}

# /metrics: this tier's rectification notices beside the review requests (shared.ops.deadlines).
METRICS_DEADLINE_SOURCES = {
    **METRICS_DEADLINE_SOURCES,  # noqa: F405
    "notice": "provincial_hub.compliance.metrics.notice_deadlines",
}
