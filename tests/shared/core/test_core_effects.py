"""Side effects, one way each (`shared.core.effects`): tasks queued after commit, receivers
connected by each app's `receivers.connect()`."""

import uuid

import pytest
from django.db import transaction

from shared.core.effects import enqueue_on_commit

pytestmark = pytest.mark.django_db


class Task:
    """Stands for a Celery task: records what was queued; `down` plays a broker outage."""

    def __init__(self, *, down=False):
        self.name = f"test.{uuid.uuid4().hex}"  # its own coalescing windows
        self.down = down
        self.queued = []

    def apply_async(self, args, countdown=None):
        if self.down:
            raise ConnectionRefusedError("broker down")
        self.queued.append((args, countdown))


def test_a_task_is_queued_when_the_transaction_commits_and_not_before(
    django_capture_on_commit_callbacks,
):
    task = Task()
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            enqueue_on_commit(task, 7, "x")
            assert task.queued == []  # still inside the transaction
    assert task.queued == [((7, "x"), None)]


def test_nothing_is_queued_for_a_change_that_rolls_back(django_capture_on_commit_callbacks):
    task = Task()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            enqueue_on_commit(task, 1)
            transaction.set_rollback(True)
    assert (callbacks, task.queued) == ([], [])


def test_a_broker_outage_is_logged_not_raised(django_capture_on_commit_callbacks, caplog):
    task = Task(down=True)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        enqueue_on_commit(task, 3)
    assert len(callbacks) == 1 and task.queued == []
    assert f"could not queue {task.name}(3,)" in caplog.text


def test_coalesced_kicks_run_once_at_once_and_once_at_the_windows_end(
    django_capture_on_commit_callbacks,
):
    task, other = Task(), Task()
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(5):  # five commits within one window
            enqueue_on_commit(task, "410000", coalesce=60)
        enqueue_on_commit(task, "410100", coalesce=60)  # other arguments: a window of its own
        enqueue_on_commit(other, "410000", coalesce=60)
    [(first, at_once), (trailing, countdown), (own, own_at_once)] = task.queued
    assert (first, at_once, trailing, own, own_at_once) == (
        ("410000",),
        None,
        ("410000",),
        ("410100",),
        None,
    )
    assert 59 < countdown <= 60  # at the end of the first kick's window
    assert other.queued == [(("410000",), None)]


def test_every_apps_receivers_are_connected_once_django_is_set_up():
    from celery.signals import task_postrun, task_prerun
    from django.core.signals import request_finished

    from shared.catalog.signals import license_type_changed
    from shared.files.signals import license_file_ready
    from shared.licenses.signals import license_changed

    def uids(signal):
        return {entry[0][0] for entry in signal.receivers}  # ((dispatch_uid, sender), …)

    assert {"files.schedule", "federation.outbox.license"} <= uids(license_changed)
    assert "federation.outbox.type" in uids(license_type_changed)
    assert "uplink.files.ready" in uids(license_file_ready)  # a node announces its files
    assert "access_log_flush_request" in uids(request_finished)
    assert {"core.db_prerun"} <= uids(task_prerun)
    assert {"core.db_postrun", "access_log_flush_task"} <= uids(task_postrun)
