"""`/readyz`: may this process take traffic? The database answers with every migration applied,
the Celery broker accepts a connection, the Redis of the rate limits answers when it is not the
broker (a hub on RabbitMQ: RATE_LIMIT_REDIS_URL), and the library's federation key signs and
verifies.

Every check has its own short timeout and any failure is reported as that check's name and
error class (never a traceback, never a 500): a load balancer only needs 200 or 503.
"""

from collections.abc import Callable

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from kombu import Connection

from shared.core.tier import library_tier

BROKER_TIMEOUT_SECONDS = 0.5
PROBE = b"elicense readyz"


def check_database() -> str:
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT 1")
    return "ok"


def check_migrations() -> str:
    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return "ok" if not plan else f"{len(plan)} pending"


def check_broker() -> str:
    """One connection through kombu, as the workers make it: a Redis PING for redis:// (and
    the demo's redis+socket://), a folder check for the filesystem transport."""
    options = {
        **getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}),
        "socket_connect_timeout": BROKER_TIMEOUT_SECONDS,
        "socket_timeout": BROKER_TIMEOUT_SECONDS,
    }
    with Connection(
        settings.CELERY_BROKER_URL,
        connect_timeout=BROKER_TIMEOUT_SECONDS,
        transport_options=options,
    ) as connection:
        connection.ensure_connection(max_retries=0, timeout=BROKER_TIMEOUT_SECONDS)
        connection.default_channel  # noqa: B018 - opening the channel is the redis PING
    return "ok"


def check_redis() -> str:
    """PING the rate limits' Redis (checked only where it is not the broker: the broker check
    already pings a Redis broker)."""
    import redis

    client = redis.Redis.from_url(
        settings.RATE_LIMIT_REDIS_URL,
        socket_timeout=BROKER_TIMEOUT_SECONDS,
        socket_connect_timeout=BROKER_TIMEOUT_SECONDS,
    )
    try:
        client.ping()
    finally:
        client.close()
    return "ok"


def check_signing() -> str:
    from shared.crypto import suites
    from shared.federation.keys import signing_key

    _kid, private = signing_key()
    suite = suites.suite_for_key(private)
    signature = suite.sign(private, PROBE)
    if not suite.verify(suite.public_key_of(private), signature, PROBE):
        return "error: verify"
    return "ok"


# What needs the database is skipped when it is down (one failure named, not three).
NEEDS_DATABASE = frozenset({"migrations", "signing"})
CHECKS: dict[str, Callable[[], str]] = {
    "database": check_database,
    "migrations": check_migrations,
    "broker": check_broker,
    "redis": check_redis,
    "signing": check_signing,
}


def _applies(name: str) -> bool:
    return name != "redis" or bool(getattr(settings, "RATE_LIMIT_REDIS_URL", ""))


def readyz(request: HttpRequest) -> JsonResponse:
    """200 {"status": "ready", "checks": {...}} or 503 naming the failing checks."""
    checks: dict[str, str] = {}
    for name, check in CHECKS.items():
        if not _applies(name):
            continue
        if name in NEEDS_DATABASE and checks["database"] != "ok":
            checks[name] = "skipped"
            continue
        try:
            checks[name] = check()
        except Exception as exc:  # noqa: BLE001 - readiness reports any failure as "not ready"
            checks[name] = f"error: {exc.__class__.__name__}"
    ready = all(value == "ok" for value in checks.values())
    body = {
        "status": "ready" if ready else "not_ready",
        "tier": library_tier(),
        "library_code": settings.LIBRARY_CODE,
        "library_name": settings.LIBRARY_NAME,
        "checks": checks,
        "failing": sorted(name for name, value in checks.items() if value != "ok"),
    }
    return JsonResponse(body, status=200 if ready else 503)
