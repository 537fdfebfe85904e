"""The hub witnesses node checkpoints: a node cannot rewrite its history unseen.

Hub-side service, tested directly (the federation transport carries the same dicts). These
tests run under either deployment's settings; CI runs them under the hub's.
"""

import pytest
from django.db import connection

from provincial_hub.aggregation.models import Witness
from provincial_hub.aggregation.witness import checkpoint_witness, witness_last_size
from shared.access import log
from shared.access.models import AccessRecord
from shared.access.services import access_record
from shared.core.errors import PermanentError
from shared.crypto.suites import get_suite, private_key_to_pem, public_key_of, public_key_to_pem

pytestmark = pytest.mark.django_db


@pytest.fixture
def node(settings):
    return settings.LIBRARY_CODE


def append(user, n):
    for i in range(n):
        access_record(
            user=user,
            operation="verify",
            matter_code="M0001",
            use_cause=f"核验 {i}",
            licenses=[],
            outcome="none",
        )


def test_first_checkpoint_is_accepted_and_extensions_are_consistent(consumer_user, node):
    append(consumer_user, 5)
    first = checkpoint_witness(node_code=node, checkpoint=log.checkpoint_export())
    assert (first.status, first.tree_size) == ("consistent", 5)
    append(consumer_user, 6)
    second = checkpoint_witness(
        node_code=node,
        checkpoint=log.checkpoint_export(from_size=witness_last_size(node_code=node)),
    )
    assert (second.status, second.tree_size, second.previous_id) == ("consistent", 11, first.pk)
    again = checkpoint_witness(node_code=node, checkpoint=log.checkpoint_export())
    assert again.status == "consistent"  # the same tree again is no news


def test_rewritten_history_is_flagged(consumer_user, node):
    # given: the hub witnessed a checkpoint of 6 records
    append(consumer_user, 6)
    witnessed = checkpoint_witness(node_code=node, checkpoint=log.checkpoint_export())
    # when: the node rewrites record 2 (with recomputed hashes), appends, and signs a new tree
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("UPDATE access_accessrecord SET use_cause = '改写' WHERE seq = 2")
        cursor.execute("DELETE FROM access_checkpoint")
        prev = log.genesis_hash(node)
        for record in AccessRecord.objects.order_by("seq"):
            leaf = log.content_leaf_hash(log.record_content(record))
            cursor.execute(
                "UPDATE access_accessrecord SET leaf_hash=%s, prev_hash=%s, record_hash=%s"
                " WHERE id=%s",
                [leaf, prev, log.chain_hash(prev, leaf), record.pk],
            )
            prev = log.chain_hash(prev, leaf)
        cursor.execute("UPDATE access_chainhead SET record_hash=%s", [prev])
        cursor.execute("SET LOCAL session_replication_role = origin")
    append(consumer_user, 3)
    forged = log.checkpoint_export(from_size=6)
    # then: the local chain verifies (the rewrite was thorough) but the hub is not fooled
    assert log.log_verify().ok
    verdict = checkpoint_witness(node_code=node, checkpoint=forged)
    assert verdict.status == "inconsistent"
    assert "历史被改写" in verdict.problem
    assert witness_last_size(node_code=node) == witnessed.tree_size


def test_same_size_different_root_and_rollback_are_flagged(consumer_user, node):
    append(consumer_user, 4)
    good = log.checkpoint_export()
    checkpoint_witness(node_code=node, checkpoint=good)
    key = log.log_signing_key()
    fork = dict(good, root_hash="ab" * 32)
    fork["signature"] = _sign(key, fork)
    assert checkpoint_witness(node_code=node, checkpoint=fork).status == "inconsistent"
    rollback = dict(good, tree_size=3)
    rollback["signature"] = _sign(key, rollback)
    assert checkpoint_witness(node_code=node, checkpoint=rollback).status == "inconsistent"


def test_bad_signature_and_key_change_are_refused(consumer_user, node):
    append(consumer_user, 2)
    good = log.checkpoint_export()
    tampered = dict(good, head_hash="00" * 32)
    assert checkpoint_witness(node_code=node, checkpoint=tampered).status == "bad_signature"
    checkpoint_witness(node_code=node, checkpoint=good)
    other = get_suite("gm").generate_key()
    impostor = dict(good, public_key=public_key_to_pem(public_key_of(other)).decode())
    impostor["signature"] = _sign(other, impostor)
    verdict = checkpoint_witness(node_code=node, checkpoint=impostor)
    assert verdict.status == "bad_signature"
    assert private_key_to_pem(other, None)  # (the impostor's key is a real SM2 key)


def test_registry_key_overrides_trust_on_first_use(consumer_user, node):
    append(consumer_user, 2)
    good = log.checkpoint_export()
    other = public_key_to_pem(public_key_of(get_suite("gm").generate_key())).decode()
    verdict = checkpoint_witness(node_code=node, checkpoint=good, public_key_pem=other)
    assert verdict.status == "bad_signature"


def test_missing_proof_is_unproven_not_accepted(consumer_user, node):
    append(consumer_user, 2)
    checkpoint_witness(node_code=node, checkpoint=log.checkpoint_export())
    append(consumer_user, 2)
    verdict = checkpoint_witness(node_code=node, checkpoint=log.checkpoint_export())
    assert verdict.status == "unproven"
    assert witness_last_size(node_code=node) == 2


def test_malformed_checkpoint_is_a_clear_error(node):
    with pytest.raises(PermanentError) as caught:
        checkpoint_witness(node_code=node, checkpoint={"tree_size": "x"})
    assert caught.value.code == "witness.malformed"
    assert Witness.objects.count() == 0


def _sign(key, document):
    from datetime import datetime

    payload = log.checkpoint_payload_bytes(
        library_code=document["library_code"],
        tree_size=int(document["tree_size"]),
        root_hash=document["root_hash"],
        head_hash=document["head_hash"],
        signed_at=datetime.fromisoformat(document["signed_at"]),
    )
    return get_suite("gm").sign(key, payload).hex()
