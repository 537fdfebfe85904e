"""Test settings: a real PostgreSQL and Redis (make test provides them).

The settings package may already have evaluated base.py (with development defaults), so the
database and broker are computed here again from the test URLs.
"""

import os

from shared.conf.env import broker_url, database_config, test_worker_redis_url, test_worker_var_dir

from .base import *  # noqa: F403

DATABASES = {
    "default": database_config(
        "unused",
        os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/elicense_hub"),
    )
}
# The replica alias as Django's test mirror of `default`: the same test database through a
# connection of its own (it sees only what is committed, as a standby would). Reads stay on
# `default` unless a test points STALE_READS_DATABASE at it (tests/hub/test_read_replica.py).
DATABASES["replica"] = {**DATABASES["default"], "TEST": {"MIRROR": "default"}}
STALE_READS_DATABASE = "default"
RATE_LIMIT_REDIS_URL = ""  # the test broker's Redis, whatever the shell's CELERY_BROKER_URL
CELERY_BROKER_URL, CELERY_BROKER_TRANSPORT_OPTIONS = broker_url(
    "unused", test_worker_redis_url(os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"))
)
test_worker_var_dir()
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# A test revokes and verifies in one breath, also through bulk paths that send no signal: read
# the licence on every scan (tests/shared/files/test_verify_cache.py sets a bound itself).
VERIFY_STATUS_SECONDS = 0
# Tests roll back the key rows they make: read the active keys for every file (the cache's own
# tests set a TTL).
FILES_KEY_CACHE_SECONDS = 0
