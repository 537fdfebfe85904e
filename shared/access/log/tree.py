"""The log's Merkle tree, kept as the roots of its perfect subtrees (`TreeNode`), so that an
inclusion or consistency proof costs a few dozen reads whatever the log's size.

A checkpoint stores every perfect subtree it completes from `LEVEL` up (256 leaves and more:
about one row per 128 records). A proof asks `range_hash_for(n)` for the ranges RFC 9162 names;
a range is split into perfect subtrees, and one below `LEVEL` is hashed from its leaves, read
a block of 256 at a time. A node missing from the table (a log checkpointed before nodes were
kept) is computed from its two halves and stored, so the first proof over an old log is slow
once and then fast.

A stored node is a cache, not a source of trust: a proof built from a wrong one does not verify
against the signed checkpoint root it is given with.
"""

from __future__ import annotations

from shared.access.log.records import LogIntegrityError
from shared.access.models import AccessRecord, LeafStub, TreeNode
from shared.crypto import merkle

LEVEL = 8


def leaf_hashes(first: int, last: int) -> list[str]:
    """Leaf hashes for seq first..last, from purge stubs and live records; gap → tampering."""
    if last < first:
        return []
    stubs = LeafStub.objects.filter(seq__gte=first, seq__lte=last).values_list("seq", "leaf_hash")
    live = AccessRecord.objects.filter(seq__gte=first, seq__lte=last).values_list(
        "seq", "leaf_hash"
    )
    pairs = sorted([*stubs, *live])
    if [s for s, _ in pairs] != list(range(first, last + 1)):
        raise LogIntegrityError(
            "access.log_gap", "用证记录链不连续，可能被删除或篡改", {"first": first, "last": last}
        )
    return [h for _, h in pairs]


def nodes_store(merges: list[merkle.Merge]) -> None:
    """Keep the completed subtrees from LEVEL up (a second writer of the same node: one row)."""
    rows = [TreeNode(level=m.level, index=m.index, hash=m.hash) for m in merges if m.level >= LEVEL]
    TreeNode.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)


def stored_subtree(level: int, index: int, below: merkle.RangeHash) -> str:
    """The kept root of a perfect subtree from LEVEL up; one not kept yet is computed from its
    halves (`below` for those under LEVEL) and kept."""
    held = TreeNode.objects.filter(level=level, index=index).values_list("hash", flat=True)
    found = held.first()
    if found is not None:
        return found
    size = 1 << level
    half = size // 2
    start = index * size
    if level - 1 >= LEVEL:
        left = stored_subtree(level - 1, 2 * index, below)
        right = stored_subtree(level - 1, 2 * index + 1, below)
    else:
        left, right = below(start, start + half), below(start + half, start + size)
    computed = merkle.node_hash(left, right)
    nodes_store([merkle.Merge(level, index, computed)])
    return computed


def range_hash_for(tree_size: int) -> merkle.RangeHash:
    """MTH of any range of the tree of `tree_size` leaves that a proof names. Below LEVEL the
    leaves are read a block of 2^LEVEL at a time, once per block: the siblings of a leaf's
    path under LEVEL all lie in its own block, so a proof reads one or two blocks."""
    blocks: dict[int, list[str]] = {}

    def leaves(start: int, end: int) -> list[str]:
        block, size = start >> LEVEL, 1 << LEVEL
        if block not in blocks:
            if len(blocks) >= 8:  # filling an old log's nodes walks blocks in order
                blocks.clear()
            first = block * size + 1  # seq of its first leaf
            blocks[block] = leaf_hashes(first, min(first + size - 1, tree_size))
        offset = block * size
        return blocks[block][start - offset : end - offset]

    def subtree(level: int, index: int) -> str:
        if level >= LEVEL:
            return stored_subtree(level, index, lambda a, b: merkle.root(leaves(a, b)))
        size = 1 << level
        return merkle.root(leaves(index * size, (index + 1) * size))

    return merkle.range_hash_of(subtree)
