"""The signing queue's drain (`shared.files.drain`): pending files taken a batch at a time, the
batch marked ready in one transaction, two drains never taking the same row, a failing file
failing alone and going back to its own task, a dead drain's rows taken again."""

import ast
import json
import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from shared.files import drain, signing
from shared.files.models import LicenseFile
from shared.files.tasks import render_license_file
from tests.shared.files.files_support import issue
from tests.shared.files.test_files_signing_costs import Statements, payload


def issue_many(issuer, issue_payload, n):
    for i in range(n):
        issue(issuer, payload(issue_payload, i))
    return list(LicenseFile.objects.order_by("pk").values_list("pk", flat=True))


@pytest.fixture
def handed_back():
    """What a drain gave back to the per-file task, read from the real `signing` queue (this
    pytest worker's Redis database): (task, arguments, delayed?) oldest first."""
    from municipal_node.celery import app

    def purge() -> None:
        with app.connection_for_write() as conn:
            conn.default_channel.queue_purge("signing")

    def published() -> list[tuple[str, tuple, bool]]:
        with app.connection_for_write() as conn:
            raw = conn.default_channel.client.lrange("signing", 0, -1)
        messages = [json.loads(m)["headers"] for m in reversed(raw)]  # LPUSH: oldest last
        return [
            (h["task"], ast.literal_eval(h["argsrepr"]), h["eta"] is not None) for h in messages
        ]

    purge()
    yield published
    purge()


def test_a_drain_renders_every_pending_file_a_batch_at_a_time(
    issuer, issue_payload, pki, handed_back
):
    # given: five pending files; the first drain loads the keys
    ids = issue_many(issuer, issue_payload, 5)
    statements = Statements()
    # when: batches of four
    with connection.execute_wrapper(statements):
        # a budget no loaded host reaches: the time budget has its own test
        result = drain.license_files_drain(batch=4, seconds=60)
    # then: all ready, each attempt counted once, nothing handed back
    assert (result.ready, result.handed_back, result.failed, result.more) == (5, 0, 0, False)
    rows = LicenseFile.objects.filter(pk__in=ids)
    assert {(r.state, r.attempts) for r in rows} == {("ready", 1)}
    assert all(r.path and r.sm3 and r.seal_id and r.claimed_at for r in rows)
    assert handed_back() == []
    # and a batch costs one claim and one version read, then the ready update and the outbox
    # row per file; the third claim finds nothing
    tables = statements.tables()
    claims = [i for i, t in enumerate(tables) if t == ("UPDATE", "files_licensefile")]
    assert tables[:2] == [("UPDATE", "files_licensefile"), ("SELECT", "licenses_licenseversion")]
    assert tables.count(("SELECT", "licenses_licenseversion")) == 2
    assert tables.count(("WITH", "federation_streamcounter")) == 5  # one file.ready each
    assert len(claims) == 3 + 5  # three claims, five ready updates
    assert tables[-1] == ("UPDATE", "files_licensefile")  # the empty claim ends it


def test_a_failing_file_fails_alone_and_goes_back_to_its_task(
    issuer, issue_payload, pki, handed_back, monkeypatch
):
    # given: three pending files, the second of which cannot be rendered
    ids = issue_many(issuer, issue_payload, 3)
    real = signing.sign_row

    def sign_row(row, version):
        if row.pk == ids[1]:
            raise OSError("磁盘已满")
        return real(row, version)

    monkeypatch.setattr(signing, "sign_row", sign_row)
    # when
    result = drain.license_files_drain(batch=8)
    # then: the others are ready; it is pending with its error, given back with a back-off
    assert (result.ready, result.handed_back, result.failed) == (2, 1, 0)
    states = dict(LicenseFile.objects.values_list("pk", "state"))
    assert [states[pk] for pk in ids] == ["ready", "pending", "ready"]
    failed = LicenseFile.objects.get(pk=ids[1])
    assert (failed.attempts, failed.last_error) == (1, "OSError: 磁盘已满")
    # after its back-off, with its claim (True)
    assert handed_back() == [("files.render", (ids[1], True), True)]
    # and its claim keeps other drains off it while its task retries
    assert drain.license_files_drain().ready == 0


def test_a_file_out_of_attempts_fails_for_good(
    issuer, issue_payload, pki, handed_back, monkeypatch, settings
):
    # given: one attempt allowed, and a file that cannot be rendered
    settings.FILES_MAX_ATTEMPTS = 1
    (pk,) = issue_many(issuer, issue_payload, 1)
    monkeypatch.setattr(signing, "sign_row", lambda row, version: 1 / 0)
    # when
    result = drain.license_files_drain()
    # then: failed, for an operator; nothing retries it
    assert (result.ready, result.failed, result.handed_back) == (0, 1, 0)
    assert LicenseFile.objects.get(pk=pk).state == "failed"
    assert handed_back() == []


def test_a_batch_sealed_with_a_seal_revoked_meanwhile_goes_back(
    issuer, issue_payload, issuer_agency, pki, handed_back, monkeypatch
):
    # given: two files, and the seal revoked by another process once they are signed
    ids = issue_many(issuer, issue_payload, 2)
    real = signing.sign_row
    signed = []

    def sign_row(row, version):
        ready = real(row, version)
        signed.append(row.pk)
        if len(signed) == 2:
            type(ready["seal"]).objects.filter(pk=ready["seal"].pk).update(
                revoked_at=timezone.now(), active=False
            )
        return ready

    monkeypatch.setattr(signing, "sign_row", sign_row)
    # when
    result = drain.license_files_drain()
    # then: neither is ready; both go back to their task, which signs with the successor
    assert signed == ids
    assert (result.ready, result.handed_back) == (0, 2)
    assert set(LicenseFile.objects.values_list("state", flat=True)) == {"pending"}
    assert handed_back() == [("files.render", (pk, True), False) for pk in ids]
    monkeypatch.setattr(signing, "sign_row", real)
    again = [render_license_file.apply(args=[pk, True]).get() for pk in ids]
    assert again == ["ready", "ready"]


def test_a_dead_drains_rows_are_taken_again_once_its_claim_is_stale(
    issuer, issue_payload, pki, handed_back, settings
):
    # given: a drain claimed two rows and died before rendering them
    ids = issue_many(issuer, issue_payload, 2)
    assert [row.pk for row in drain._claim(8)] == ids
    # when / then: another drain leaves them while the claim is fresh
    assert drain.license_files_drain().ready == 0
    # when: the claim is older than FILES_CLAIM_SECONDS
    stale = timezone.now() - timedelta(seconds=settings.FILES_CLAIM_SECONDS + 1)
    LicenseFile.objects.update(claimed_at=stale)
    # then: taken and rendered, their second attempt
    assert drain.license_files_drain().ready == 2
    assert set(LicenseFile.objects.values_list("state", "attempts")) == {("ready", 2)}


def test_a_drain_past_its_time_gives_the_queue_back(issuer, issue_payload, pki, handed_back):
    # given: three pending files
    issue_many(issuer, issue_payload, 3)
    # when: a drain with no time left after its first batch
    result = drain.license_files_drain(batch=1, seconds=1e-9)
    # then: one done, and it says more may be left
    assert (result.ready, result.more) == (1, True)
    assert LicenseFile.objects.filter(state="pending").count() == 2


@pytest.mark.django_db(transaction=True)
def test_two_drains_claiming_at_once_never_take_the_same_row(issuer, issue_payload, pki):
    # given: forty pending rows
    ids = issue_many(issuer, issue_payload, 40)
    barrier = threading.Barrier(4)
    taken: list[list[int]] = []

    def claim():
        try:
            barrier.wait()
            for _ in range(5):
                taken.append([row.pk for row in drain._claim(3)])
        finally:
            connections.close_all()

    # when: four processes' worth of claims, each on its own connection, released together
    threads = [threading.Thread(target=claim) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then: every row taken once, none twice
    claimed = [pk for batch in taken for pk in batch]
    assert sorted(claimed) == sorted(set(claimed))
    assert len(claimed) == 40
    assert set(claimed) == set(ids)
    assert set(LicenseFile.objects.values_list("attempts", flat=True)) == {1}


@pytest.mark.django_db(transaction=True)
def test_issues_kick_coalesced_drains_that_a_real_worker_runs(
    signing_worker, issuer, issue_payload, pki, settings
):
    from celery.signals import before_task_publish

    from shared.core import effects

    # given: a two-second window, none open yet in this process; a drain's time budget no
    # loaded host reaches (past it a drain queues itself again: a third `files.drain`)
    settings.FILES_DRAIN_COALESCE_MS = 2000
    settings.FILES_DRAIN_SECONDS = 60
    effects.forget_windows()
    published = []

    def record(sender=None, **_):
        published.append(sender)

    before_task_publish.connect(record, weak=False)
    try:
        # when: five issues inside the window
        ids = issue_many(issuer, issue_payload, 5)
        deadline = timezone.now() + timedelta(seconds=20)
        while LicenseFile.objects.filter(state="pending").exists():
            assert timezone.now() < deadline, "the worker did not render the files"
            threading.Event().wait(0.1)
    finally:
        before_task_publish.disconnect(record)
    # then: one drain at once and one at the window's end, no task per file; all ready
    assert [name for name in published if name.startswith("files.")] == [
        "files.drain",
        "files.drain",
    ]
    assert set(LicenseFile.objects.filter(pk__in=ids).values_list("state", "attempts")) == {
        ("ready", 1)
    }
