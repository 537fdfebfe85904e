"""The hub's Celery on RabbitMQ quorum queues (CELERY_BROKER_URL + CELERY_QUEUE_TYPE=quorum,
docs/operations.md 高可用), against the real RabbitMQ on 127.0.0.1:5672.

A real hub worker process (the deployment's settings, read from the environment as in
production) consumes the queues of a virtual host of this test's own; tasks reach it from a
publisher declaring the same queues; RabbitMQ itself reports the queues' type.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from celery import Celery
from django.db import connection
from django.db.models import Max

from shared.conf.env import ImproperlyConfiguredError, celery_queues
from shared.conf.production import check_production_settings
from shared.statistics.models import Watermark
from tests.federation.harness import wait_until
from tests.shared.demo.test_hardening_secrets import production_settings

VHOST = "elicense_quorum_test"
ROOT = Path(__file__).resolve().parents[2]


def rabbitmqctl(*args: str) -> str:
    result = subprocess.run(
        ["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def broker_url():
    subprocess.run(["rabbitmqctl", "-q", "delete_vhost", VHOST], capture_output=True, timeout=60)
    rabbitmqctl("add_vhost", VHOST)
    rabbitmqctl("set_permissions", "-p", VHOST, "guest", ".*", ".*", ".*")
    yield f"amqp://guest:guest@127.0.0.1:5672/{VHOST}"
    rabbitmqctl("delete_vhost", VHOST)


@pytest.fixture
def hub_worker(broker_url, tmp_path):
    """`celery -A provincial_hub worker` on this test's database, its broker RabbitMQ."""
    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "TEST_"))}
    env |= {
        "DJANGO_SETTINGS_MODULE": "provincial_hub.settings",
        "DJANGO_ENV": "local",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
        "CELERY_BROKER_URL": broker_url,
        "CELERY_QUEUE_TYPE": "quorum",
        "VAR_DIR": str(tmp_path),
        "SECRET_KEY": "quorum-test-secret-key-0123456789-abcdefghijklmn",
    }
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "celery"), "-A", "provincial_hub", "worker"]
            + ["--concurrency", "1", "--loglevel", "INFO", "-n", f"quorum-{os.getpid()}@%h"],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    yield log
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def logged(log: Path, outcome: str) -> int:
    """How many times the worker's log says a rollup was `received` or has `succeeded`."""
    return sum(
        1
        for line in log.read_text(errors="replace").splitlines()
        if "Task statistics.rollup[" in line and f"] {outcome}" in line
    )


def last_rollup():
    return Watermark.objects.aggregate(last=Max("run_at"))["last"]


# transactional: the worker is another process, it sees only committed rows
@pytest.mark.django_db(transaction=True)
def test_a_hub_worker_on_quorum_queues_runs_tasks_now_and_after_a_countdown(broker_url, hub_worker):
    # given a publisher declaring the hub's queues as the settings do
    publisher = Celery("quorum-test", broker=broker_url)
    publisher.conf.update(
        {
            key.removeprefix("CELERY_").lower(): value
            for key, value in celery_queues("quorum").items()
        },
        task_default_queue="default",
    )
    try:
        # when a task is sent now
        publisher.send_task("statistics.rollup")
        # then the hub's worker runs it (the statistics rollup stamps its watermarks)
        wait_until(lambda: logged(hub_worker, "succeeded") == 1, timeout=90, message="ran")
        assert last_rollup() is not None
        # and one sent with a countdown waits in RabbitMQ's delayed-delivery queues, not in
        # the worker: the worker receives it only when it is due, then runs it
        sent = time.monotonic()
        publisher.send_task("statistics.rollup", countdown=3)
        wait_until(
            lambda: logged(hub_worker, "received") == 2, timeout=30, interval=0.05, message="due"
        )
        assert time.monotonic() - sent >= 2.5
        wait_until(lambda: logged(hub_worker, "succeeded") == 2, timeout=30, message="ran again")
    finally:
        publisher.close()
    # and RabbitMQ reports the hub's two task queues as quorum queues
    listed = dict(
        line.split("\t")
        for line in rabbitmqctl("list_queues", "-p", VHOST, "name", "type").splitlines()[1:]
    )
    assert {name: listed.get(name) for name in ("default", "signing")} == {
        "default": "quorum",
        "signing": "quorum",
    }
    # and the worker set its prefetch per consumer, as quorum queues require
    assert "Global QoS is disabled" in hub_worker.read_text()


def test_classic_is_the_default_and_anything_else_refuses_to_start():
    classic = celery_queues("classic")["CELERY_TASK_QUEUES"]
    assert [(q.name, q.queue_arguments) for q in classic] == [("default", None), ("signing", None)]
    with pytest.raises(ImproperlyConfiguredError, match="classic 或 quorum"):
        celery_queues("mirrored")


def test_production_on_rabbitmq_refuses_to_start_without_redis_for_the_rate_limits():
    amqp = "amqp://elicense:x@mq1:5672/elicense_hub"
    with pytest.raises(ImproperlyConfiguredError) as refused:
        check_production_settings(production_settings(CELERY_BROKER_URL=amqp))
    assert str(refused.value) == (
        "REDIS_URL must be set beside an AMQP CELERY_BROKER_URL (rate limits)"
    )
    check_production_settings(
        production_settings(CELERY_BROKER_URL=amqp, RATE_LIMIT_REDIS_URL="redis://127.0.0.1:6379/0")
    )
