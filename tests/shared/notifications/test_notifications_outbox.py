"""The outbox: notify queues per user × channel once; delivery over a real SMTP server, the
reference SMS gateway and the file channel; retries with back-off; at most once."""

import base64
import json
import time
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from shared.notifications.models import Notification
from shared.notifications.services import (
    INTERRUPTED,
    notification_deliver,
    notification_sweep,
    notify,
)

State = Notification.State


def _notify(users, key="test:1"):
    return notify(
        event="licence.status",
        dedupe_key=key,
        users=users,
        subject="电子证照状态变更：暂扣",
        body="您的食品经营许可证已暂扣。",
        link="http://testserver/holder/",
    )


def test_notify_queues_one_row_per_user_and_channel_and_never_twice(holder, staff_with_email):
    # given a holder with e-mail and phone, a staff member with e-mail (file channel for both)
    # when the same notification is queued twice
    with transaction.atomic():
        first = _notify([holder, staff_with_email, holder])
    with transaction.atomic():
        second = _notify([holder, staff_with_email])
    # then five rows were queued once: email+sms+file for the holder, email+file for staff
    assert first == 5
    assert second == 0
    rows = Notification.objects.all()
    assert sorted((r.user_id, r.channel, r.address, r.state) for r in rows) == sorted(
        [
            (holder.pk, "email", "holder@example.cn", State.PENDING),
            (holder.pk, "file", "holder@example.cn", State.PENDING),
            (holder.pk, "sms", "13800000001", State.PENDING),
            (staff_with_email.pk, "email", "issuer@example.cn", State.PENDING),
            (staff_with_email.pk, "file", "issuer@example.cn", State.PENDING),
        ]
    )


def test_notify_rolls_back_with_the_caller(holder):
    # given a caller whose transaction fails after notify
    # when it rolls back
    with pytest.raises(RuntimeError), transaction.atomic():
        _notify([holder])
        raise RuntimeError
    # then nothing was queued
    assert Notification.objects.count() == 0


def test_channels_follow_settings_and_contact(holder, settings):
    # given only e-mail enabled
    settings.NOTIFY_CHANNELS = ["email"]
    # when notified
    queued = _notify([holder])
    # then one e-mail row
    assert queued == 1
    assert list(Notification.objects.values_list("channel", flat=True)) == ["email"]


def test_no_sms_without_a_gateway(holder, settings):
    # given e-mail and SMS enabled but no SMS gateway configured
    settings.NOTIFY_CHANNELS = ["email", "sms"]
    settings.NOTIFY_SMS_URL = ""
    # when notified
    queued = _notify([holder])
    # then only the e-mail row (an SMS row could only die)
    assert queued == 1
    assert list(Notification.objects.values_list("channel", flat=True)) == ["email"]


def test_email_delivered_once_over_real_smtp(holder, smtp, mails, settings):
    # given a queued e-mail
    settings.NOTIFY_CHANNELS = ["email"]
    _notify([holder])
    row = Notification.objects.get()
    # when it is delivered, then delivered again and swept
    first = notification_deliver(notification_id=str(row.pk))
    again = notification_deliver(notification_id=str(row.pk))
    swept = notification_sweep()
    # then the mailbox holds exactly one message, with the row's Message-ID
    assert (first, again, swept.delivered) == ("sent", "skipped", 0)
    messages = mails()
    assert len(messages) == 1
    assert messages[0]["To"] == "holder@example.cn"
    assert messages[0]["Subject"] == "电子证照状态变更：暂扣"
    assert messages[0]["Message-ID"].startswith(f"<{row.pk}@notify.")
    assert "http://testserver/holder/" in messages[0].get_content()
    row.refresh_from_db()
    assert (row.state, row.attempts, row.last_error) == (State.SENT, 1, "")
    assert row.sent_at is not None


def test_email_retried_after_smtp_server_was_down(holder, notify_settings, mailbox_dir, mails):
    # given a queued e-mail and no SMTP server listening
    from shared.notifications.mailbox import MailboxServer

    notify_settings.NOTIFY_CHANNELS = ["email"]
    _notify([holder])
    row = Notification.objects.get()
    # when delivery is tried
    outcome = notification_deliver(notification_id=str(row.pk))
    # then it failed, retryable, due after the back-off
    row.refresh_from_db()
    assert outcome == "failed"
    assert row.state == State.FAILED
    assert row.attempts == 1
    assert row.last_error.startswith("邮件服务器不可用")
    assert row.next_attempt_at > timezone.now()
    assert notification_sweep().delivered == 0  # not due yet: nothing tried
    row.refresh_from_db()
    assert row.attempts == 1
    # when the server is up and the back-off passed
    with MailboxServer(mailbox_dir, port=notify_settings.EMAIL_PORT):
        time.sleep(1.2)
        swept = notification_sweep()
    # then it was sent once, on the second attempt
    row.refresh_from_db()
    assert swept.delivered == 1
    assert (row.state, row.attempts, row.last_error) == (State.SENT, 2, "")
    assert len(mails()) == 1


def test_dead_after_max_attempts(holder, notify_settings, mails):
    # given no SMTP server and two attempts allowed, no back-off
    notify_settings.NOTIFY_CHANNELS = ["email"]
    notify_settings.NOTIFY_MAX_ATTEMPTS = 2
    notify_settings.NOTIFY_RETRY_BASE_SECONDS = 0
    _notify([holder])
    row = Notification.objects.get()
    # when swept three times
    outcomes = [notification_deliver(notification_id=str(row.pk)) for _ in range(3)]
    # then the second failure was final and the third call did nothing
    row.refresh_from_db()
    assert outcomes == ["failed", "dead", "skipped"]
    assert (row.state, row.attempts, row.next_attempt_at) == (State.DEAD, 2, None)
    assert mails() == []


def test_sms_gateway_retry_and_refusal(holder, sms_gateway, settings):
    # given the SMS channel only, the gateway busy once, and a second user with a bad number
    from shared.accounts.models import User
    from shared.notifications.models import Contact

    settings.NOTIFY_CHANNELS = ["sms"]
    settings.NOTIFY_RETRY_BASE_SECONDS = 0
    other = User.objects.create(username="bad_phone", role="holder")
    Contact.objects.create(user=other, phone="1380000x")
    sms_gateway.fail_next = 1
    _notify([holder])
    _notify([other])
    good = Notification.objects.get(user=holder)
    bad = Notification.objects.get(user=other)
    # when delivered, then swept
    first = notification_deliver(notification_id=str(good.pk))
    refused = notification_deliver(notification_id=str(bad.pk))
    notification_sweep()
    # then the busy answer was retried and the refusal is final (no retry)
    good.refresh_from_db()
    bad.refresh_from_db()
    assert (first, refused) == ("failed", "dead")
    assert (good.state, good.attempts) == (State.SENT, 2)
    assert (bad.state, bad.attempts) == (State.DEAD, 1)
    assert bad.last_error.startswith("短信网关拒绝：HTTP 422")
    assert [m["phone"] for m in sms_gateway.messages] == ["13800000001"]
    assert sms_gateway.messages[0]["text"].startswith("【")
    assert sms_gateway.requests == 3


def test_file_channel_writes_one_json_line(holder, settings):
    # given the file channel only
    settings.NOTIFY_CHANNELS = ["file"]
    _notify([holder])
    row = Notification.objects.get()
    # when delivered twice
    notification_deliver(notification_id=str(row.pk))
    notification_deliver(notification_id=str(row.pk))
    # then one line
    files = list(Path(settings.NOTIFY_FILE_DIR).glob("*.jsonl"))
    lines = files[0].read_text(encoding="utf-8").splitlines()
    assert len(files) == 1
    assert len(lines) == 1
    assert json.loads(lines[0])["id"] == str(row.pk)
    assert json.loads(lines[0])["subject"] == "电子证照状态变更：暂扣"


def test_interrupted_send_is_not_resent(holder, smtp, mails, settings):
    # given a row a sender claimed and never finished (crashed after the claim's commit)
    settings.NOTIFY_CHANNELS = ["email"]
    _notify([holder])
    row = Notification.objects.get()
    Notification.objects.filter(pk=row.pk).update(
        state=State.SENDING, attempts=1, next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
    # when the sweep runs (twice)
    first = notification_sweep()
    second = notification_sweep()
    # then it is dead with the reason, and nothing was sent (at most once)
    row.refresh_from_db()
    assert (first.interrupted, second.interrupted, first.delivered) == (1, 0, 0)
    assert (row.state, row.last_error) == (State.DEAD, INTERRUPTED)
    assert mails() == []


def test_contact_phone_is_validated_and_audited(holder, library_admin):
    from shared.audit.models import AuditEntry
    from shared.core.errors import PermanentError
    from shared.notifications.models import Contact
    from shared.notifications.services import contact_set

    # given the holder's number 13800000001
    # when a bad number is set, then a good one
    with pytest.raises(PermanentError) as refused:
        contact_set(actor=library_admin, user=holder, phone="1380000")
    unchanged = Contact.objects.get(user=holder).phone
    contact_set(actor=library_admin, user=holder, phone="139-0000-0002")
    # then the bad one changed nothing, the good one is kept normalised and audited
    assert (refused.value.code, unchanged) == ("contact.phone", "13800000001")
    assert Contact.objects.get(user=holder).phone == "13900000002"
    entry = AuditEntry.objects.get(action="contact.update")
    assert (entry.before, entry.after) == ({"phone": "13800000001"}, {"phone": "13900000002"})


def test_sweep_stops_when_its_time_budget_is_spent(holder, smtp, mails, settings):
    # given two due e-mails
    settings.NOTIFY_CHANNELS = ["email"]
    _notify([holder], key="a")
    _notify([holder], key="b")
    # when a sweep runs with no time left, then one with time
    spent = notification_sweep(budget_seconds=0)
    pending = Notification.objects.filter(state=State.PENDING).count()
    full = notification_sweep()
    # then the first sent nothing and the second sent both
    assert (spent.delivered, pending, full.delivered) == (0, 2, 2)
    assert len(mails()) == 2


def test_delivery_task_is_queued_only_on_commit(holder, django_capture_on_commit_callbacks):
    # given the real broker's default queue, empty
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)  # this xdist worker's database
    broker.delete("default")
    # when notify runs inside a caller's transaction, before and after the commit
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            _notify([holder])
            before_commit = broker.llen("default")
    # then nothing was queued before the commit, and one task with the three row ids after
    messages = [json.loads(m) for m in broker.lrange("default", 0, -1)]
    broker.delete("default")
    rows = sorted(str(pk) for pk in Notification.objects.values_list("pk", flat=True))
    assert before_commit == 0
    assert len(callbacks) == 1
    assert [m["headers"]["task"] for m in messages] == ["notifications.deliver"]
    assert sorted(json.loads(base64.b64decode(messages[0]["body"]))[0][0]) == rows
