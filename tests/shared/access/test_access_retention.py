"""Retention (art. 27): records are kept at least 1,096 days; the purge archives older ones to
a verifiable file before removing them, and the chain and proofs still verify afterwards."""

import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.utils import timezone

from shared.access import log
from shared.access.models import AccessRecord, LeafStub, PurgeRun
from shared.core.errors import PermanentError
from shared.crypto import merkle

pytestmark = pytest.mark.django_db


def old_and_new(user, *, old=5, new=3):
    """`old` records from four years ago, then `new` from today, chained and checkpointed."""
    from shared.access.services import access_record

    long_ago = timezone.now() - timedelta(days=4 * 365)
    rows = []
    for i in range(old):
        row = AccessRecord(
            library_code="410100",
            occurred_at=long_ago + timedelta(minutes=i),
            recorded_at=long_ago + timedelta(minutes=i),  # written then too: that month goes
            username=user.username,
            agency_code=user.agency.code,
            agency_name=user.agency.name,
            operation="query",
            outcome="none",
            matter_code="M0001",
            use_cause=f"旧记录 {i}",
        )
        rows.append(row)
    log.log_append(rows)
    for i in range(new):
        access_record(
            user=user,
            operation="query",
            matter_code="M0001",
            use_cause=f"新记录 {i}",
            licenses=[],
            outcome="none",
        )
    log.checkpoint_create()


def test_purge_refuses_anything_younger_than_three_years(consumer_user):
    old_and_new(consumer_user)
    with pytest.raises(PermanentError) as caught:
        log.access_purge(before=timezone.now() - timedelta(days=1095))
    assert caught.value.code == "access.retention"
    assert AccessRecord.objects.count() == 8
    assert PurgeRun.objects.get().state == "refused"


def test_purge_archives_then_removes_and_the_chain_still_verifies(
    consumer_user, settings, tmp_path
):
    settings.ACCESS_ARCHIVE_DIR = str(tmp_path)
    old_and_new(consumer_user)
    before_purge = log.log_verify()
    assert before_purge.ok
    # when
    run = log.access_purge(before=timezone.now() - timedelta(days=1097))
    # then: the five old records are archived and gone, their hashes kept as stubs
    assert (run.state, run.first_seq, run.last_seq, run.count) == ("done", 1, 5, 5)
    assert sorted(AccessRecord.objects.values_list("seq", flat=True)) == [6, 7, 8]
    assert list(LeafStub.objects.values_list("seq", flat=True).order_by("seq")) == [1, 2, 3, 4, 5]
    archive = Path(run.archive_path)
    report = log.archive_verify(archive)
    assert (report.ok, report.checked, report.tree_size) == (True, 5, 5)
    assert "旧记录 3" in archive.read_text(encoding="utf-8")
    assert log.log_verify().ok
    proof = log.log_proof(seq=7)
    assert proof["verified"]
    assert merkle.verify_inclusion(
        proof["leaf_hash"], 6, 8, proof["audit_path"], proof["checkpoint"]["root_hash"]
    )


def test_a_tampered_archive_is_detected(consumer_user, settings, tmp_path):
    settings.ACCESS_ARCHIVE_DIR = str(tmp_path)
    old_and_new(consumer_user)
    run = log.access_purge(before=timezone.now() - timedelta(days=1097))
    path = Path(run.archive_path)
    lines = path.read_text(encoding="utf-8").splitlines()
    line = json.loads(lines[2])
    line["content"]["use_cause"] = "改写"
    lines[2] = json.dumps(line, ensure_ascii=False, sort_keys=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    codes = {p["code"] for p in log.archive_verify(path).problems}
    assert {"archive_digest", "content_changed"} <= codes


def test_the_database_itself_refuses_to_purge_young_records(consumer_user):
    old_and_new(consumer_user)
    with pytest.raises(DatabaseError, match="younger"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT access_log_purge(6, 8, 1096)")
    with pytest.raises(DatabaseError, match="1096"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT access_log_purge(1, 5, 10)")
    with pytest.raises(DatabaseError, match="stubs"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT access_log_purge(1, 5, 1096)")
    assert AccessRecord.objects.count() == 8
