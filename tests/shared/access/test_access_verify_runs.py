"""Verifying the whole log is a worker's job (a log of millions takes minutes, longer than a
web request may): the library administrator asks for it, a real Celery worker runs it, and
the run shows its progress and its report."""

import time
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.utils import timezone

from shared.access import log
from shared.access.log import verify, verify_runs
from shared.access.models import AccessRecord, VerifyRun
from tests.shared.access.test_access_log import append, superuser_sql

pytestmark = pytest.mark.django_db


@pytest.fixture
def celery_worker(transactional_db):
    if settings.LIBRARY_TIER == "hub":
        from provincial_hub.celery import app
    else:
        from municipal_node.celery import app
    with start_worker(app, perform_ping_check=False, pool="solo", queues=["default"]) as worker:
        yield worker


def wait_done(client, seconds=30):
    deadline = time.monotonic() + seconds
    while True:
        body = client.get("/api/v1/access-log/verify/").json()
        if body["state"] in ("done", "failed") or time.monotonic() > deadline:
            return body
        time.sleep(0.1)


def test_the_administrator_asks_and_a_worker_verifies(
    celery_worker, admin, library_admin, consumer_user
):
    append(consumer_user, 3)
    log.checkpoint_create()
    # when
    asked = admin.post("/api/v1/access-log/verify/")
    # then: accepted at once, and done by the worker
    assert asked.status_code == 202, asked.json()
    assert (asked.json()["state"], asked.json()["total"]) == ("queued", 3)
    done = wait_done(admin)
    assert done["id"] == asked.json()["id"]
    assert {k: done[k] for k in ("state", "ok", "checked", "tree_size", "problems")} == {
        "state": "done",
        "ok": True,
        "checked": 3,
        "tree_size": 3,
        "problems": [],
    }
    assert done["requested_by"] == library_admin.username
    assert done["finished_at"] is not None


def test_only_the_library_administrator_may_ask_or_look(admin, consumer):
    none = admin.get("/api/v1/access-log/verify/")
    assert none.status_code == 404 and none.json()["code"] == "access.verify_none"
    for answer in (
        consumer.get("/api/v1/access-log/verify/"),
        consumer.post("/api/v1/access-log/verify/"),
    ):
        assert answer.status_code == 403
        assert answer.json()["code"] == "permission.library_admin_required"
    assert not VerifyRun.objects.exists()


def test_one_run_at_a_time_unless_the_one_under_way_died(admin, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as queued:
        first = admin.post("/api/v1/access-log/verify/").json()
        again = admin.post("/api/v1/access-log/verify/").json()
    assert again["id"] == first["id"] and len(queued) == 1
    # a run that reported nothing for longer than STALE died with its worker
    VerifyRun.objects.filter(pk=first["id"]).update(state="running")
    VerifyRun.objects.filter(pk=first["id"]).update(
        updated_at=timezone.now() - verify_runs.STALE - timedelta(seconds=1)
    )
    assert admin.post("/api/v1/access-log/verify/").json()["id"] != first["id"]


def test_a_run_reports_progress_and_what_it_found(consumer_user, monkeypatch):
    append(consumer_user, 5)
    log.checkpoint_create()
    record = AccessRecord.objects.get(seq=2)
    superuser_sql(
        "UPDATE access_accessrecord SET use_cause = %s WHERE id = %s", ["改过", record.pk]
    )
    monkeypatch.setattr(verify, "PROGRESS_EVERY", 2)
    run, _ = verify_runs.verify_request(requested_by="admin")
    reported = []
    real = verify_runs.log_verify

    def spying(progress):  # type: ignore[no-untyped-def]
        def told(checked: int) -> None:
            progress(checked)
            reported.append(VerifyRun.objects.get(pk=run.pk).checked)  # written as it runs

        return real(told)

    monkeypatch.setattr(verify_runs, "log_verify", spying)
    done = verify_runs.verify_run(run_id=run.pk)
    assert reported == [2, 4]
    assert (done.state, done.ok, done.checked, done.tree_size) == ("done", False, 5, 5)
    assert "content_changed" in {p["code"] for p in done.problems}
    assert verify_runs.verify_run(run_id=run.pk) is None  # a redelivery does nothing
