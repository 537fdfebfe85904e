"""Two runs of one file row — a drain, and the per-file task the sweep queued for the same row
while it waited (shared.files.services.license_file_sweep); or one task delivered twice. The
later run leaves a row another run holds; should both render it anyway (a run stuck past its
claim), the row is marked ready once: the hub hears of one file, and the file the row names is
the one on disk (each rendering has a name of its own, and the loser's file is removed)."""

from pathlib import Path

import pytest

from shared.domain.canonical import sm3_hex
from shared.federation.models import OutboxEvent
from shared.files import drain, signing, storage
from shared.files.models import LicenseFile
from tests.shared.files.files_support import issue
from tests.shared.files.test_files_signing_costs import payload


def pdfs(root: Path) -> list[str]:
    return sorted(p.name for p in root.rglob("*.pdf"))


def file_ready_events() -> int:
    return OutboxEvent.objects.filter(kind="file.ready").count()


def test_the_sweeps_task_leaves_a_row_a_drain_holds(issuer, issue_payload, pki, files_root):
    # given: a drain has claimed the file and is rendering it
    issue(issuer, payload(issue_payload, 0))
    rows = drain._claim(1)
    (pk,) = [row.pk for row in rows]
    # when: the task the sweep queued for the row runs meanwhile
    left = signing.license_file_render(file_id=pk)
    # then: it renders nothing and counts no attempt; the drain makes the row ready
    assert (left.state, left.attempts, left.path) == ("pending", 1, "")
    assert pdfs(files_root) == []
    result = drain.DrainResult()
    drain._work(rows, result)
    assert (result.ready, result.taken) == (1, 0)
    assert file_ready_events() == 1


def test_a_file_two_runs_render_is_marked_ready_once_and_its_file_kept(
    issuer, issue_payload, pki, files_root, settings
):
    # given: a drain claimed the file and is stuck past its claim
    settings.FILES_CLAIM_SECONDS = 0
    issue(issuer, payload(issue_payload, 0))
    rows = drain._claim(1)
    (pk,) = [row.pk for row in rows]
    # when: the sweep's task renders it and marks it ready first, then the drain finishes
    first = signing.license_file_render(file_id=pk)
    result = drain.DrainResult()
    drain._work(rows, result)
    # then: the drain's file was not taken; the hub hears of one file
    assert (result.ready, result.taken, result.handed_back) == (0, 1, 0)
    assert file_ready_events() == 1
    row = LicenseFile.objects.get(pk=pk)
    assert (row.state, row.path, row.sm3) == ("ready", first.path, first.sm3)
    # and the row's digest is the file's on disk, the only one left
    assert sm3_hex(storage.read(row.path)) == row.sm3
    assert pdfs(files_root) == [Path(row.path).name]


def test_a_task_delivered_twice_at_once_renders_the_file_once(
    issuer, issue_payload, pki, files_root, monkeypatch
):
    # given: one pending file, and its task delivered again while the first delivery signs
    issue(issuer, payload(issue_payload, 0))
    (pk,) = LicenseFile.objects.values_list("pk", flat=True)
    real = signing.sign_row
    second = {}

    def sign_row(row, version):
        if not second:
            second["row"] = None
            second["row"] = signing.license_file_render(file_id=pk)
        return real(row, version)

    monkeypatch.setattr(signing, "sign_row", sign_row)
    # when
    row = signing.license_file_render(file_id=pk)
    # then: the second delivery left the row to the first, which made it ready
    assert second["row"].state == "pending"
    stored = LicenseFile.objects.get(pk=pk)
    assert (row.state, stored.state, stored.attempts) == ("ready", "ready", 1)
    assert file_ready_events() == 1
    assert pdfs(files_root) == [Path(stored.path).name]


@pytest.mark.django_db(transaction=True)
def test_a_file_rendered_again_replaces_its_old_file_once_committed(
    issuer, issue_payload, pki, files_root
):
    # given: a ready file
    issue(issuer, payload(issue_payload, 0))
    (pk,) = LicenseFile.objects.values_list("pk", flat=True)
    before = signing.license_file_render(file_id=pk).path
    # when: it is rendered again (a new seal, an operator's re-render), its claim long over
    LicenseFile.objects.filter(pk=pk).update(state="pending", claimed_at=None)
    after = signing.license_file_render(file_id=pk).path
    # then: a new name; the old file is gone once the row names the new one
    assert after != before
    assert pdfs(files_root) == [Path(after).name]


def test_a_tasks_retry_takes_again_the_row_its_failed_attempt_claimed(
    issuer, issue_payload, pki, files_root, monkeypatch
):
    from shared.files.tasks import render_license_file

    # given: one pending file whose first rendering fails
    issue(issuer, payload(issue_payload, 0))
    (pk,) = LicenseFile.objects.values_list("pk", flat=True)
    real, calls = signing.sign_row, []

    def sign_row(row, version):
        calls.append(row.pk)
        if len(calls) == 1:
            raise OSError("磁盘已满")
        return real(row, version)

    monkeypatch.setattr(signing, "sign_row", sign_row)
    # when: the task runs (eagerly: its retry runs at once, inside its claim's time)
    outcome = render_license_file.apply(args=[pk]).get()
    # then: the retry was not left out by the claim of the attempt before it
    assert (outcome, calls) == ("ready", [pk, pk])
    assert LicenseFile.objects.get(pk=pk).attempts == 2
