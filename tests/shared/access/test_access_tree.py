"""The log's Merkle tree kept as the roots of its perfect subtrees (shared.access.log.tree): a
checkpoint stores those it completes, and a proof reads a few of them and a few hundred leaves,
not every leaf of the log, and gives exactly the proof the leaves give."""

import pytest
from django.utils import timezone

from shared.access import log
from shared.access.log import tree
from shared.access.models import AccessRecord, TreeNode
from shared.crypto import merkle
from tests.shared.access.test_access_partitions import row

pytestmark = pytest.mark.django_db


def append(user, count, start=0):
    now = timezone.now()
    log.log_append([row(user, now, f"核验 {i}") for i in range(start, start + count)])


def all_leaves(n):
    return list(
        AccessRecord.objects.filter(seq__lte=n).order_by("seq").values_list("leaf_hash", flat=True)
    )


def stored():
    return set(TreeNode.objects.values_list("level", "index"))


@pytest.fixture
def leaf_reads(monkeypatch):
    """Every leaf range a proof reads (seq first..last)."""
    spans: list[tuple[int, int]] = []
    original = tree.leaf_hashes

    def counting(first, last):  # type: ignore[no-untyped-def]
        spans.append((first, last))
        return original(first, last)

    monkeypatch.setattr(tree, "leaf_hashes", counting)
    return spans


def test_checkpoints_keep_the_subtrees_they_complete_and_proofs_read_few_leaves(
    consumer_user, leaf_reads
):
    append(consumer_user, 600)
    first = log.checkpoint_create()
    assert first.tree_size == 600
    # 600 leaves: two perfect subtrees of 256 (level 8) and one of 512 (level 9)
    assert stored() == {(8, 0), (8, 1), (9, 0)}
    leaves = all_leaves(600)
    assert TreeNode.objects.get(level=9, index=0).hash == merkle.root(leaves[:512])
    append(consumer_user, 500, start=600)
    second = log.checkpoint_create()
    assert stored() == {(8, 0), (8, 1), (8, 2), (8, 3), (9, 0), (9, 1), (10, 0)}
    leaves = all_leaves(1100)
    # when: proofs of several places, and the consistency of the two checkpoints
    for seq in (1, 256, 257, 700, 1024, 1100):
        leaf_reads.clear()
        proof = log.log_proof(seq=seq)
        # then: the leaf's own block of 256, and the tree's last (partial) one
        assert 1 <= len(leaf_reads) <= 2, leaf_reads
        assert max(last - first + 1 for first, last in leaf_reads) <= 256
        assert proof["verified"] is True
        size = proof["checkpoint"]["tree_size"]  # the smallest checkpoint that covers it
        assert size == (600 if seq <= 600 else 1100)
        assert proof["audit_path"] == merkle.inclusion_proof(leaves[:size], seq - 1)
    leaf_reads.clear()
    document = log.checkpoint_export(from_size=600, checkpoint=second)
    proof = document["consistency"]["proof"]
    assert proof == merkle.consistency_proof(leaves, 600)
    assert merkle.verify_consistency(600, 1100, first.root_hash, second.root_hash, proof)
    assert 1 <= len(leaf_reads) <= 3, leaf_reads  # never the whole log
    assert max(last - first + 1 for first, last in leaf_reads) <= 256


def test_a_missing_node_is_computed_from_its_halves_and_kept(consumer_user):
    """A log checkpointed before nodes were kept: the first proof fills them in."""
    append(consumer_user, 600)
    log.checkpoint_create()
    TreeNode.objects.all().delete()
    leaves = all_leaves(600)
    proof = log.log_proof(seq=3)
    assert proof["verified"] and proof["audit_path"] == merkle.inclusion_proof(leaves, 2)
    assert stored() == {(8, 1)}  # the one the proof needed


def test_verification_finds_a_wrong_stored_node(consumer_user):
    append(consumer_user, 300)
    log.checkpoint_create()
    assert log.log_verify().ok
    TreeNode.objects.filter(level=8, index=0).update(hash="0" * 64)
    report = log.log_verify()
    assert not report.ok
    assert {p["code"] for p in report.problems} == {"tree_node_mismatch"}
    # and a proof built from it does not verify against the signed root
    assert log.log_proof(seq=260)["verified"] is False  # its path holds leaves 0..255
