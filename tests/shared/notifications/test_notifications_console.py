"""库管理 → 通知发送: the operator lists the outbox by state and event, sees the last error,
and retries a failed or dead row (audited); nobody else may."""

import pytest

from shared.audit.models import AuditEntry
from shared.notifications.models import Notification
from shared.notifications.services import notification_deliver, notify
from tests.console_support import console_client

URL = "/console/admin/notifications/"


@pytest.fixture
def admin_console(library_admin):
    return console_client(library_admin)


@pytest.fixture
def dead_row(holder, notify_settings):
    """An e-mail that could not be sent (no SMTP server), out of attempts."""
    notify_settings.NOTIFY_CHANNELS = ["email"]
    notify_settings.NOTIFY_MAX_ATTEMPTS = 1
    notify(
        event="licence.status", dedupe_key="k:1", users=[holder], subject="状态变更", body="已暂扣"
    )
    row = Notification.objects.get()
    assert notification_deliver(notification_id=str(row.pk)) == "dead"
    row.refresh_from_db()
    return row


def test_operator_lists_filters_and_sees_the_error(admin_console, dead_row, staff_with_email):
    # given a dead e-mail and a pending one of another event
    notify(
        event="review.answered",
        dedupe_key="k:2",
        users=[staff_with_email],
        subject="复核已答复",
        body="x",
    )
    # when the operator lists dead rows, then review rows
    dead = admin_console.get(URL, {"state": "dead"}).content.decode()
    reviews = admin_console.get(URL, {"event": "review.answered"}).content.decode()
    everything = admin_console.get(URL).content.decode()
    # then each list holds its rows, the dead one with its error and a retry button
    assert "状态变更" in dead and "复核已答复" not in dead
    assert "邮件服务器不可用" in dead
    assert f"/console/admin/notifications/{dead_row.pk}/retry/" in dead
    assert "复核已答复" in reviews and "状态变更" not in reviews
    assert '<th scope="col">最近错误</th>' in everything
    assert 'aria-label="重试发送 状态变更' in everything
    assert "通知发送" in everything  # the navigation names the screen


def test_operator_retries_a_dead_row_audited(admin_console, dead_row, library_admin, smtp, mails):
    # given a dead row and an SMTP server now up
    # when the operator retries it
    response = admin_console.post(f"/console/admin/notifications/{dead_row.pk}/retry/")
    # then it is due again, audited, and the next delivery sends it
    assert response.status_code == 302
    dead_row.refresh_from_db()
    assert dead_row.state == Notification.State.PENDING
    entry = AuditEntry.objects.get(action="notification.retry")
    assert (entry.target_id, entry.before["state"], entry.after["state"]) == (
        str(dead_row.pk),
        "dead",
        "pending",
    )
    assert entry.actor_id == library_admin.pk
    assert notification_deliver(notification_id=str(dead_row.pk)) == "sent"
    assert len(mails()) == 1


def test_retry_refused_for_a_sent_row_and_for_staff(
    admin_console, holder, smtp, issuer_user, notify_settings
):
    # given a sent row
    notify_settings.NOTIFY_CHANNELS = ["email"]
    notify(event="licence.status", dedupe_key="k:3", users=[holder], subject="状态变更", body="x")
    row = Notification.objects.get()
    notification_deliver(notification_id=str(row.pk))
    row.refresh_from_db()
    before = (row.state, row.attempts, row.next_attempt_at)
    # when the operator retries it, and issuer staff open the screen or retry
    refused = admin_console.post(f"/console/admin/notifications/{row.pk}/retry/", follow=True)
    staff = console_client(issuer_user)
    page = staff.get(URL)
    forbidden = staff.post(f"/console/admin/notifications/{row.pk}/retry/")
    # then nothing changed and nothing was audited
    assert "只有失败或已放弃的通知可以重试" in refused.content.decode()
    assert (page.status_code, forbidden.status_code) == (403, 403)
    row.refresh_from_db()
    assert (row.state, row.attempts, row.next_attempt_at) == before
    assert not AuditEntry.objects.filter(action="notification.retry").exists()
