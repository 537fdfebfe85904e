"""bench/accesslog/proofs: an inclusion proof and a checkpoint's consistency proof over a large
access log, from the stored subtree roots (`shared.access.log.tree`) against the way they were
built before, from every leaf of the log, in the same run on the same database.

    .venv/bin/python bench/accesslog/proofs.py [--records 1000000] [--proofs 20]

The scratch database of bench/accesslog (dropped and created again) is filled the same way
(synthetic records with random leaf hashes, over 40 months); the tree is then built once as
checkpoints build it, keeping its perfect subtrees, and a checkpoint with its true root is
written. Printed: per inclusion proof and per consistency proof, milliseconds and the leaves
read, for both ways, and each proof checked against the root.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.accesslog.run import fill, setup  # noqa: E402
from bench.hostload import host_load  # noqa: E402


def build_tree(records: int) -> str:
    """The tree over leaves 1..records, kept as a checkpoint keeps it; its root."""
    from django.db import connection, transaction

    from shared.access.log import tree
    from shared.access.models import Checkpoint
    from shared.crypto import merkle

    frontier: list[str] = []
    merges: list[merkle.Merge] = []
    for first in range(1, records + 1, 100_000):
        last = min(first + 99_999, records)
        frontier = merkle.frontier_extend(
            frontier, first - 1, tree.leaf_hashes(first, last), merges.append
        )
        tree.nodes_store(merges)
        merges.clear()
    root = merkle.frontier_root(frontier)
    # fill()'s checkpoint has no true root; checkpoints are append-only (a trigger), which a
    # superuser's session may set aside, as this scratch database's owner does here
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        Checkpoint.objects.filter(tree_size=records).update(root_hash=root, frontier=frontier)
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--proofs", type=int, default=20)
    args = parser.parse_args()
    n = args.records
    host_load("before")
    setup()
    print(f"fill: {n:,} records in {fill(n, 40):.0f} s", flush=True)
    began = time.perf_counter()
    root = build_tree(n)
    print(f"tree kept: {time.perf_counter() - began:.1f} s", flush=True)

    from shared.access import log
    from shared.access.log import tree
    from shared.access.models import TreeNode
    from shared.crypto import merkle

    print(f"subtree roots kept: {TreeNode.objects.count():,} ({n:,} leaves)", flush=True)
    read = [0]
    leaf_hashes = tree.leaf_hashes

    def counted(first: int, last: int) -> list[str]:
        read[0] += last - first + 1
        return leaf_hashes(first, last)

    tree.leaf_hashes = counted  # type: ignore[assignment]
    rng = random.Random(7)
    places = [rng.randint(1, n) for _ in range(args.proofs)]
    times = []
    for seq in places:
        t = time.perf_counter()
        proof = log.log_proof(seq=seq)
        times.append((time.perf_counter() - t) * 1000)
        assert proof["verified"], seq
    print(
        f"inclusion proof, kept subtrees: median {statistics.median(times):.1f} ms, "
        f"max {max(times):.1f} ms, {read[0] / len(places):.0f} leaves read per proof",
        flush=True,
    )
    old_size = n // 3
    cp = log.checkpoint_create()
    read[0] = 0
    t = time.perf_counter()
    document = log.checkpoint_export(from_size=old_size, checkpoint=cp)
    ms = (time.perf_counter() - t) * 1000
    proof = document["consistency"]["proof"]
    print(f"consistency proof, kept subtrees: {ms:.1f} ms, {read[0]:,} leaves read", flush=True)
    tree.leaf_hashes = leaf_hashes  # type: ignore[assignment]

    # the way before: every leaf of the log, then the proof from the list
    t = time.perf_counter()
    leaves = tree.leaf_hashes(1, n)
    loaded = (time.perf_counter() - t) * 1000
    t = time.perf_counter()
    old = merkle.inclusion_proof(leaves, places[0] - 1)
    one = (time.perf_counter() - t) * 1000
    assert old == log.log_proof(seq=places[0])["audit_path"]
    assert merkle.verify_inclusion(leaves[places[0] - 1], places[0] - 1, n, old, root)
    t = time.perf_counter()
    old_consistency = merkle.consistency_proof(leaves, old_size)
    consistency = (time.perf_counter() - t) * 1000
    assert old_consistency == proof
    print(
        f"baseline, every leaf: loading {n:,} leaf hashes {loaded:.0f} ms, then an inclusion "
        f"proof {one:.0f} ms, a consistency proof {consistency:.0f} ms (same proofs)",
        flush=True,
    )
    host_load("after")


if __name__ == "__main__":
    main()
