"""Per-agency rate limits for purpose-bound use (fixed one-minute windows).

Counters live in Redis when the deployment's broker is Redis (shared by every web process);
with the demo's filesystem broker they are per process, which is enough for one machine.
Two budgets: every call (`ACCESS_RATE_PER_MINUTE`) and calls that found nothing or were
refused (`ACCESS_MISS_PER_MINUTE`), so guessing holder codes runs out long before listing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict

from django.conf import settings

logger = logging.getLogger(__name__)
_local_lock = threading.Lock()
_local: dict[str, int] = defaultdict(int)
_clients: dict[str, object] = {}


def _redis():
    url = getattr(settings, "RATE_LIMIT_REDIS_URL", "") or getattr(
        settings, "CELERY_BROKER_URL", ""
    )
    if not url.startswith(("redis://", "rediss://")):
        return None
    client = _clients.get(url)
    if client is None:
        import redis

        client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        _clients[url] = client
    return client


def clock() -> float:
    """The windows' clock, in seconds since the epoch. Tests fix it: a run that crossed a
    minute's edge split its count over two windows and stayed under the limit."""
    return time.time()


def _key(kind: str, agency_key: str, window: int) -> str:
    return f"access:rl:{settings.LIBRARY_CODE}:{kind}:{agency_key}:{window}"


def _count(agency_key: str, *, call: int, miss: int) -> tuple[int, int]:
    """Add to this minute's counters and return (calls, misses): one Redis round trip."""
    window = int(clock() // 60)
    keys = (_key("calls", agency_key, window), _key("misses", agency_key, window))
    client = _redis()
    if client is not None:
        try:
            pipe = client.pipeline(transaction=False)
            for key, add in zip(keys, (call, miss), strict=True):
                pipe.incrby(key, add)
                pipe.expire(key, 120)
            values = pipe.execute()
            return int(values[0]), int(values[2])
        except Exception:  # noqa: BLE001 - a Redis hiccup must not turn into a 500
            logger.warning("access rate limit: Redis unavailable, counting locally", exc_info=True)
    with _local_lock:
        _local[keys[0]] += call
        _local[keys[1]] += miss
        return _local[keys[0]], _local[keys[1]]


def retry_after() -> int:
    return 60 - int(clock()) % 60


def rate_take(*, agency_key: str) -> bool:
    """Count one call; False when the agency is over either budget this minute."""
    calls, misses = _count(agency_key, call=1, miss=0)
    return calls <= settings.ACCESS_RATE_PER_MINUTE and misses < settings.ACCESS_MISS_PER_MINUTE


def rate_miss(*, agency_key: str) -> None:
    _count(agency_key, call=0, miss=1)


def rate_reset() -> None:
    """Forget every counter of this library (tests, operator console)."""
    client = _redis()
    if client is not None:
        for key in client.scan_iter(f"access:rl:{settings.LIBRARY_CODE}:*"):
            client.delete(key)
    with _local_lock:
        _local.clear()


def anonymous_take(*, client_key: str) -> bool:
    """Count one anonymous refusal of a client (its address); False when over
    `ACCESS_ANON_PER_MINUTE` this minute: the caller then answers 429."""
    calls, _ = _count(f"anon:{client_key}", call=1, miss=0)
    return calls <= settings.ACCESS_ANON_PER_MINUTE


def budget_take(*, kind: str, key: str, limit: int) -> bool:
    """Count one use of a budget of our own (`kind`, e.g. `enrol`) by `key` (an address, a
    code's digest); False when over `limit` this minute: the caller then answers 429."""
    calls, _ = _count(f"{kind}:{key}", call=1, miss=0)
    return calls <= limit
