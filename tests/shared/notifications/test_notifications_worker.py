"""An expiry reminder is sent once across a worker restart: real Celery worker processes
(Redis broker, the test database), a real SMTP server. The first worker runs the daily job and
delivers; it is killed (SIGKILL, as a crash); a new worker runs the daily job twice more and
the sweep: nothing is queued or sent again."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone

from shared.licenses.models import License
from shared.notifications.models import Notification, Reminder
from tests.shared.inspections.conftest import issue

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[3]
CELERY = Path(sys.executable).parent / "celery"


class Worker:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        out = self.log.open("ab")
        self.proc = subprocess.Popen(  # noqa: S603 - our own celery, fixed arguments
            [
                str(CELERY),
                "-A",
                "municipal_node",
                "worker",
                "-P",
                "solo",
                "-Q",
                "default",
                "--loglevel",
                "WARNING",
                "-n",
                f"notify-{time.monotonic_ns()}@%h",
            ],
            env=self.env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        out.close()

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)


def _broker() -> redis.Redis:
    # this pytest-xdist worker's database (the Celery worker below inherits the same offset)
    return redis.Redis.from_url(settings.CELERY_BROKER_URL)


def _wait(predicate, what: str, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _drained() -> bool:
    broker = _broker()
    return broker.llen("default") == 0 and broker.hlen("unacked") == 0


@pytest.fixture
def worker_env(notify_settings, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "TEST_"))}
    db = settings.DATABASES["default"]
    env.update(
        DJANGO_SETTINGS_MODULE="municipal_node.settings.test",
        TEST_DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{connection.settings_dict['NAME']}",
        TEST_REDIS_URL=os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
        VAR_DIR=str(tmp_path / "var"),
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(notify_settings.EMAIL_PORT),
        NOTIFY_CHANNELS="email,file",
        NOTIFY_FILE_DIR=notify_settings.NOTIFY_FILE_DIR,
        PYTHONUNBUFFERED="1",
    )
    _broker().delete("default", "unacked", "unacked_index")
    return env


def test_expiry_reminder_sent_once_across_worker_restart(
    holder, staff_with_email, issuer_user, license_type, smtp, mails, worker_env, tmp_path
):
    from municipal_node.celery import app

    # given a licence expiring in 30 days, its holder and the issuer's staff with e-mail
    lic = issue(issuer_user, license_type, number="JY-RESTART")
    License.objects.filter(pk=lic.pk).update(valid_to=timezone.localdate() + timedelta(days=30))
    first = Worker(worker_env, tmp_path / "worker-1.log")
    second = Worker(worker_env, tmp_path / "worker-2.log")
    try:
        # when a worker runs the daily job and delivers, and is then killed
        first.start()
        app.send_task("notifications.daily")
        _wait(lambda: len(mails()) == 2, "two e-mails")
        _wait(
            lambda: (
                Notification.objects.exclude(state="sent").count() == 0
                and Notification.objects.count() == 4
            ),
            "every row sent",
        )
        _wait(_drained, "the queue drained")
        first.kill()
        # and a new worker runs the daily job twice more and the sweep, with one more licence
        # now due (so the new worker is seen to work)
        later = issue(issuer_user, license_type, number="JY-LATER")
        License.objects.filter(pk=later.pk).update(
            valid_to=timezone.localdate() + timedelta(days=7)
        )
        second.start()
        app.send_task("notifications.daily")
        app.send_task("notifications.daily")
        app.send_task("notifications.sweep")
        time.sleep(1)
        _wait(lambda: len(mails()) == 4, "the later licence's e-mails")
        _wait(_drained, "the second worker's queue drained")
    finally:
        first.kill()
        second.kill()
    # then each reminder was sent once to each recipient, on each channel
    today = timezone.localdate()
    assert sorted((m["To"], m["Subject"]) for m in mails()) == [
        ("holder@example.cn", "电子证照将于 30 天后到期"),
        ("holder@example.cn", "电子证照将于 7 天后到期"),
        ("issuer@example.cn", "电子证照将于 30 天后到期"),
        ("issuer@example.cn", "电子证照将于 7 天后到期"),
    ]
    assert sorted(Reminder.objects.values_list("license_id", "key")) == [
        (lic.pk, f"{(today + timedelta(days=30)).isoformat()}:30"),
        (later.pk, f"{(today + timedelta(days=7)).isoformat()}:7"),
    ]
    assert (
        sorted(Notification.objects.values_list("channel", "state", "attempts"))
        == [("email", "sent", 1)] * 4 + [("file", "sent", 1)] * 4
    )
    lines = [
        line
        for f in Path(worker_env["NOTIFY_FILE_DIR"]).glob("*.jsonl")
        for line in f.read_text(encoding="utf-8").splitlines()
    ]
    assert len(lines) == 4
