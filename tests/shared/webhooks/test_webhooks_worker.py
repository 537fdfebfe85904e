"""The whole path with a real Celery worker process (issue #14 "a webhook delivered once after
the receiver was down"): the licence change commits, the worker's first attempt finds the
receiver down, the beat's sweep retries after the back-off once it is up: exactly one
delivery, with a signature the receiver verifies; later sweeps and kicks send nothing more."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from municipal_node.celery import app
from shared.webhooks import signing
from shared.webhooks.models import DeliveryAttempt, WebhookEvent
from tests.shared.webhooks.conftest import MATTER

pytestmark = pytest.mark.django_db(transaction=True)
VENV_BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def worker_process(transactional_db, tmp_path):
    """`celery -A municipal_node worker` on this test's database and broker (a separate
    process: it sees only what the test committed)."""
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("default")
    name = connection.settings_dict["NAME"]
    env = os.environ | {
        "DJANGO_SETTINGS_MODULE": "municipal_node.settings.test",
        "TEST_DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{name}",
        "TEST_REDIS_URL": os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
        "WEBHOOK_RETRY_BASE_SECONDS": "1",
    }
    log = tmp_path / "worker.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(  # noqa: S603 - our own worker, fixed arguments
            [
                str(VENV_BIN / "celery"),
                "-A",
                "municipal_node",
                "worker",
                "--pool",
                "solo",
                "-Q",
                "default",
                "--loglevel",
                "INFO",
                "-n",
                f"hooks-{time.monotonic_ns()}@%h",
            ],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(lambda: " ready." in log.read_text(errors="replace"), what="worker ready")
        yield proc, log
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def wait_for(check, *, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_delivered_once_after_the_receiver_was_down(
    worker_process, consumer, issuer, used, receiver
):
    # given: a subscription; the receiver is down
    created = consumer.post(
        "/api/v1/webhooks/subscriptions/",
        {
            "identifier": used.identifier,
            "matter_code": MATTER,
            "use_cause": "跟踪食品经营许可证状态，办理后续监管",
            "target_url": receiver.url,
        },
    )
    assert created.status_code == 201, created.content
    secret = created.json()["secret"]
    # when: the issuer suspends the licence (committed; the worker is kicked on commit)
    acted = issuer.post(
        f"/api/v1/licenses/{used.identifier}/suspend/", {"reason": "涉嫌违法经营，暂扣"}
    )
    assert acted.status_code == 200, acted.content
    event = WebhookEvent.objects.get()
    # then: the worker's first attempt found nobody listening
    first = wait_for(
        lambda: DeliveryAttempt.objects.filter(event=event).first(), what="first attempt"
    )
    assert (first.number, first.status_code, first.succeeded) == (1, None, False)
    assert "ConnectionError" in first.error
    event.refresh_from_db()
    assert (event.state, event.attempts) == ("pending", 1)
    assert len(receiver.received) == 0

    # when: the receiver comes up; after the back-off the beat's sweep runs (sent by name, as
    # beat sends it)
    receiver.start()
    wait_for(lambda: time.time() > event.next_attempt_at.timestamp() + 0.1, what="back-off")
    app.send_task("webhooks.sweep")
    # then: delivered exactly once, signed
    wait_for(
        lambda: WebhookEvent.objects.filter(pk=event.pk, state="delivered").exists(),
        what="delivery",
    )
    assert len(receiver.received) == 1
    headers, body = receiver.received[0]
    assert headers[signing.HEADER_EVENT_ID] == str(event.event_id)
    assert signing.verify(
        secret=secret,
        timestamp=headers[signing.HEADER_TIMESTAMP],
        body=body,
        header=headers[signing.HEADER_SIGNATURE],
    )
    assert receiver.bodies()[0]["status"] == "suspended"
    assert receiver.bodies()[0]["identifier"] == used.identifier

    # when: more sweeps and a repeated kick
    app.send_task("webhooks.sweep")
    app.send_task("webhooks.deliver", args=[[str(event.event_id)]])
    marker = app.send_task("webhooks.sweep")
    _, log = worker_process
    wait_for(
        lambda: f"[{marker.id}] succeeded" in log.read_text(errors="replace"),
        what="the last sweep",
    )
    # then: nothing sent again
    assert len(receiver.received) == 1
    assert DeliveryAttempt.objects.filter(event=event).count() == 2
