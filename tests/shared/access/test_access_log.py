"""The access log: hash chain, signed checkpoints, inclusion proofs, the database refusing
rewrites, and tampering (change, delete, insert) found by chain verification."""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.utils import timezone

from shared.access import log
from shared.access.models import AccessRecord, ChainHead, Checkpoint
from shared.access.services import access_record
from shared.crypto import merkle
from shared.crypto.suites import get_suite, public_key_from_pem
from tests.shared.access.conftest import MATTER

pytestmark = pytest.mark.django_db


def append(user, n, **extra):
    return [
        access_record(
            user=user,
            operation="query",
            matter_code=MATTER,
            use_cause=f"核验 {i}",
            licenses=[],
            outcome="none",
            **extra,
        )
        for i in range(n)
    ]


def superuser_sql(sql, params=()):
    """What a DBA with superuser rights could do: triggers off for this transaction."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)
        cursor.execute("SET LOCAL session_replication_role = origin")


def test_sequencing_chains_records_in_insertion_order(consumer_user):
    rows = append(consumer_user, 5)
    assert log.log_sequence() == 5
    assert log.log_sequence() == 0
    stored = list(AccessRecord.objects.order_by("seq"))
    assert [r.pk for r in stored] == [r.pk for r in rows]
    assert [r.seq for r in stored] == [1, 2, 3, 4, 5]
    prev = log.genesis_hash("410100")
    for record in stored:
        assert record.prev_hash == prev
        assert record.record_hash == log.chain_hash(prev, record.leaf_hash)
        prev = record.record_hash
    assert (ChainHead.objects.get().seq, ChainHead.objects.get().record_hash) == (5, prev)
    assert log.log_verify().ok


def test_checkpoint_is_signed_and_covers_the_tree(consumer_user):
    append(consumer_user, 7)
    cp = log.checkpoint_create()
    assert cp.tree_size == 7
    leaves = list(AccessRecord.objects.order_by("seq").values_list("leaf_hash", flat=True))
    assert cp.root_hash == merkle.root(leaves)
    assert cp.head_hash == AccessRecord.objects.get(seq=7).record_hash
    assert log.checkpoint_verify_signature(log.checkpoint_document(cp), cp.public_key)
    # nothing new: the same checkpoint; more records: a larger one extending the first
    assert log.checkpoint_create().pk == cp.pk
    append(consumer_user, 4)
    second = log.checkpoint_create()
    assert second.tree_size == 11
    document = log.checkpoint_export(from_size=7, checkpoint=second)
    assert merkle.verify_consistency(
        7, 11, cp.root_hash, second.root_hash, document["consistency"]["proof"]
    )


def test_proof_api_gives_a_verifiable_inclusion_proof(consumer, consumer_user, admin):
    append(consumer_user, 6)
    log.checkpoint_create()  # proofs are served from signed checkpoints only (no write per read)
    response = consumer.get("/api/v1/access-log/proof/4/")
    assert response.status_code == 200, response.json()
    proof = response.json()
    cp = proof["checkpoint"]
    assert cp["tree_size"] == 6
    assert merkle.verify_inclusion(
        proof["leaf_hash"], 3, cp["tree_size"], proof["audit_path"], cp["root_hash"]
    )
    key = public_key_from_pem(cp["public_key"].encode())
    payload = log.checkpoint_payload_bytes(
        library_code=cp["library_code"],
        tree_size=cp["tree_size"],
        root_hash=cp["root_hash"],
        head_hash=cp["head_hash"],
        signed_at=timezone.datetime.fromisoformat(cp["signed_at"]),
    )
    assert get_suite("gm").verify(key, bytes.fromhex(cp["signature"]), payload)
    assert admin.get("/api/v1/access-log/checkpoint/").json()["tree_size"] == 6


def test_proof_of_someone_elses_or_missing_record_is_the_same_404(
    consumer, second_consumer, consumer_user
):
    append(consumer_user, 2)
    log.log_sequence()
    for client, seq in ((second_consumer, 1), (consumer, 99), (consumer, "x")):
        response = client.get(f"/api/v1/access-log/proof/{seq}/")
        assert response.status_code == 404
        assert response.json()["code"] == "access.record_not_found"


def test_the_database_refuses_updates_and_deletes(consumer_user):
    append(consumer_user, 3)
    log.checkpoint_create()
    for sql in (
        "UPDATE access_accessrecord SET use_cause = '改写' WHERE seq = 2",
        "UPDATE access_accessrecord SET seq = 9 WHERE seq = 2",
        "DELETE FROM access_accessrecord WHERE seq = 3",
        "UPDATE access_checkpoint SET root_hash = 'x'",
        "DELETE FROM access_checkpoint",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(sql)
    with pytest.raises(DatabaseError), transaction.atomic():
        AccessRecord.objects.filter(seq=1).update(matter_code="X")
    assert AccessRecord.objects.filter(matter_code=MATTER).count() == 3


def test_the_application_role_cannot_update_or_delete(consumer_user):
    from shared.access.dbroles import append_only_grants_sql

    append(consumer_user, 2)
    log.log_sequence()
    with connection.cursor() as cursor:
        cursor.execute("DROP ROLE IF EXISTS elicense_app_test")
        cursor.execute("CREATE ROLE elicense_app_test NOLOGIN")
        cursor.execute(append_only_grants_sql("elicense_app_test"))
        cursor.execute("SET LOCAL ROLE elicense_app_test")
        cursor.execute("SELECT count(*) FROM access_accessrecord")
        assert cursor.fetchone()[0] == 2
    for sql in (
        "UPDATE access_accessrecord SET use_cause = 'x'",
        "DELETE FROM access_accessrecord",
        "TRUNCATE access_accessrecord",
    ):
        with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(sql)
    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")


@pytest.mark.parametrize("tamper", ["change", "delete", "insert", "rewrite_all"])
def test_tampering_is_found_by_chain_verification(consumer_user, tamper):
    # given: a chained, checkpointed log
    append(consumer_user, 8)
    log.checkpoint_create()
    assert log.log_verify().ok
    # when: someone with database superuser rights edits it behind the application's back
    if tamper == "change":
        superuser_sql("UPDATE access_accessrecord SET use_cause = '改写的事由' WHERE seq = 3")
    elif tamper == "delete":
        superuser_sql("DELETE FROM access_accessrecord WHERE seq = 5")
    elif tamper == "insert":
        forged = AccessRecord.objects.get(seq=4)
        superuser_sql(
            "INSERT INTO access_accessrecord (request_id, seq, leaf_hash, prev_hash, record_hash,"
            " library_code, occurred_at, username, agency_code, agency_name, operation, outcome,"
            " reason_code, matter_code, use_cause, identifier, type_code, issuer_code,"
            " source_library, holder_digest, holder_code_type, detail) SELECT gen_random_uuid(),"
            " 9, leaf_hash, record_hash, record_hash, library_code, occurred_at, username,"
            " agency_code, agency_name, operation, outcome, reason_code, matter_code, '伪造',"
            " identifier, type_code, issuer_code, source_library, holder_digest, holder_code_type,"
            " detail FROM access_accessrecord WHERE id = %s",
            [forged.pk],
        )
    else:  # rewrite history consistently: new content, recomputed leaf and chain hashes
        superuser_sql("UPDATE access_accessrecord SET use_cause = '全部改写'")
        prev = log.genesis_hash("410100")
        for record in AccessRecord.objects.order_by("seq"):
            leaf = log.content_leaf_hash(log.record_content(record))
            new_hash = log.chain_hash(prev, leaf)
            superuser_sql(
                "UPDATE access_accessrecord SET leaf_hash=%s, prev_hash=%s, record_hash=%s"
                " WHERE id=%s",
                [leaf, prev, new_hash, record.pk],
            )
            prev = new_hash
        superuser_sql("UPDATE access_chainhead SET record_hash=%s", [prev])
    # then
    report = log.log_verify()
    assert not report.ok
    codes = {p["code"] for p in report.problems}
    expected = {
        "change": {"content_changed"},
        "delete": {"missing", "chain_broken"},
        "insert": {"content_changed", "head_mismatch"},
        "rewrite_all": {"checkpoint_mismatch"},
    }[tamper]
    assert expected <= codes, report.problems


def test_checkpoint_every_n_records_is_requested(consumer_user, settings):
    settings.ACCESS_CHECKPOINT_EVERY = 1  # every append asks the worker; no worker: logged only
    append(consumer_user, 2)
    assert AccessRecord.objects.count() == 2


def test_records_are_written_before_commit_of_the_caller(consumer_user):
    with transaction.atomic():
        append(consumer_user, 1)
        transaction.set_rollback(True)
    assert AccessRecord.objects.count() == 1


def test_old_record_content_hash_covers_every_field(consumer_user):
    [record] = append(consumer_user, 1, detail={"k": "v"})
    record.refresh_from_db()
    assert record.leaf_hash == log.content_leaf_hash(log.record_content(record))
    for field, value in (("use_cause", "别的"), ("detail", {"k": "w"}), ("agency_code", "X")):
        setattr(record, field, value)
        assert record.leaf_hash != log.content_leaf_hash(log.record_content(record))
        record.refresh_from_db()
    assert timezone.now() - record.occurred_at < timedelta(minutes=1)
    assert Checkpoint.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_are_grouped_and_none_is_lost(consumer_user):
    import threading

    from django.db import connections

    errors = []

    def work():
        try:
            append(consumer_user, 25)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert AccessRecord.objects.count() == 200
    assert log.checkpoint_create().tree_size == 200
    assert log.log_verify().ok


@pytest.mark.django_db(transaction=True)
def test_an_append_inside_a_rolled_back_transaction_joins_the_group_and_stays(
    consumer_user, monkeypatch
):
    import threading
    import time

    from django.db import connections

    from shared.access.log import append as append_module

    # given: a first INSERT held in flight, so the next callers queue behind it
    real_insert, release, batches = append_module._insert, threading.Event(), []

    def held_insert(rows, alias):
        batches.append(len(rows))
        if len(batches) == 1:
            release.wait(10)
        real_insert(rows, alias)

    monkeypatch.setattr(append_module, "_insert", held_insert)

    def outside():
        try:
            append(consumer_user, 1)
        finally:
            connections.close_all()

    def inside():
        try:
            with transaction.atomic():
                append(consumer_user, 1)
                transaction.set_rollback(True)
        finally:
            connections.close_all()

    def wait_for(condition):
        deadline = time.monotonic() + 10
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert condition()

    first = threading.Thread(target=outside)
    first.start()
    wait_for(lambda: len(batches) == 1)
    # when: one caller inside a transaction (rolled back) and one outside queue meanwhile
    waiters = [threading.Thread(target=inside), threading.Thread(target=outside)]
    for thread in waiters:
        thread.start()
    wait_for(lambda: len(append_module._group_commit._queue) == 2)
    release.set()
    for thread in [first, *waiters]:
        thread.join()
    # then: both went in the next INSERT, and the rolled-back caller's record stayed
    assert batches == [1, 2]
    assert AccessRecord.objects.count() == 3
    assert log.log_verify().ok
