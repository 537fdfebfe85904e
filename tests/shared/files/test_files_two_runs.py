"""Two runs of one file row — a drain, and the per-file task the sweep queued for the same row
while it waited (shared.files.services.license_file_sweep) — mark it ready once: the hub hears
of one file, and the file the row names is the one on disk (each rendering has a name of its
own, and the loser's file is removed)."""

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


def test_a_file_two_runs_render_is_marked_ready_once_and_its_file_kept(
    issuer, issue_payload, pki, files_root
):
    # given: a drain has claimed the file and is rendering it
    issue(issuer, payload(issue_payload, 0))
    rows = drain._claim(1)
    (pk,) = [row.pk for row in rows]
    # when: the sweep's per-file task renders it and marks it ready first, then the drain
    # finishes its batch
    first = signing.license_file_render(file_id=pk)
    result = drain.DrainResult()
    drain._work(rows, result)
    # then: the drain's file was not taken; the hub hears of one file
    assert (result.ready, result.taken, result.handed_back) == (0, 1, 0)
    assert OutboxEvent.objects.filter(kind="file.ready").count() == 1
    row = LicenseFile.objects.get(pk=pk)
    assert (row.state, row.path, row.sm3) == ("ready", first.path, first.sm3)
    # and the row's digest is the file's on disk, the only one left
    assert sm3_hex(storage.read(row.path)) == row.sm3
    assert pdfs(files_root) == [Path(row.path).name]


def test_a_task_run_twice_at_once_answers_with_the_file_the_other_run_made_ready(
    issuer, issue_payload, pki, files_root, monkeypatch
):
    # given: one pending file, and its task delivered twice (the sweep queued it again while
    # the first delivery was running)
    issue(issuer, payload(issue_payload, 0))
    (pk,) = LicenseFile.objects.values_list("pk", flat=True)
    real = signing.sign_row
    other = {}

    def sign_row(row, version):
        ready = real(row, version)
        if not other:  # the second delivery marks the row ready while this one signs
            other["row"] = None
            other["row"] = signing.license_file_render(file_id=pk)
        return ready

    monkeypatch.setattr(signing, "sign_row", sign_row)
    # when
    row = signing.license_file_render(file_id=pk)
    # then: the other run's file is the row's; this run answers with it and removed its own
    stored = LicenseFile.objects.get(pk=pk)
    assert other["row"].path == stored.path
    assert (row.state, row.path, row.sm3) == ("ready", stored.path, stored.sm3)
    assert OutboxEvent.objects.filter(kind="file.ready").count() == 1
    assert pdfs(files_root) == [Path(stored.path).name]


@pytest.mark.django_db(transaction=True)
def test_a_file_rendered_again_replaces_its_old_file_once_committed(
    issuer, issue_payload, pki, files_root
):
    # given: a ready file
    issue(issuer, payload(issue_payload, 0))
    (pk,) = LicenseFile.objects.values_list("pk", flat=True)
    before = signing.license_file_render(file_id=pk).path
    # when: it is rendered again (a new seal, an operator's re-render)
    LicenseFile.objects.filter(pk=pk).update(state="pending")
    after = signing.license_file_render(file_id=pk).path
    # then: a new name; the old file is gone once the row names the new one
    assert after != before
    assert pdfs(files_root) == [Path(after).name]
