"""Verification of the whole log: every leaf from its content, every link, the head, and every
checkpoint's root and signature."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, cast

from django.conf import settings
from django.db.models import Q

from shared.access.log import tree
from shared.access.log.checkpoints import checkpoint_document, checkpoint_verify_signature
from shared.access.log.records import chain_hash, content_leaf_hash, genesis_hash, record_content
from shared.access.models import AccessRecord, ChainHead, Checkpoint, LeafStub, TreeNode
from shared.crypto import merkle

PROGRESS_EVERY = 50_000  # records between two progress reports


@dataclass(slots=True)
class ChainReport:
    ok: bool = True
    checked: int = 0
    tree_size: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)

    def flag(self, code: str, **facts: Any) -> None:
        self.ok = False
        if len(self.problems) < 100:
            self.problems.append({"code": code, **facts})


def _sequenced() -> Iterator[tuple[int, str, str, AccessRecord | None]]:
    """(seq, leaf hash to use, stored record hash, record) in seq order, purge stubs and live
    records merged: a purge drops whole months, so stubs and live records may interleave where
    one month's last places and the next month's first ones do."""
    stubs = (
        (stub.seq, stub.leaf_hash, stub.record_hash, None)
        for stub in LeafStub.objects.order_by("seq").iterator(chunk_size=2000)
    )
    live = (
        # seq__isnull=False below: every record has its place
        (cast(int, r.seq), content_leaf_hash(record_content(r)), r.record_hash, r)
        for r in AccessRecord.objects.filter(seq__isnull=False)
        .order_by("seq")
        .iterator(chunk_size=2000)
    )
    yield from heapq.merge(stubs, live, key=lambda entry: entry[0])


def log_verify(progress: Callable[[int], None] | None = None) -> ChainReport:
    """Recompute every leaf from its content, every link of the chain, the head, and the root
    of every checkpoint from the recomputed leaves (so rewriting content *and* hashes still
    fails against the signed roots); check every checkpoint's signature."""
    report = ChainReport()
    # read in tree-size order beside the chain, a chunk at a time: a busy library signs one
    # a minute, half a million a year
    checkpoints = Checkpoint.objects.order_by("tree_size").iterator(chunk_size=1000)
    cp = next(checkpoints, None)
    prev = genesis_hash(settings.LIBRARY_CODE)
    expected = 1
    frontier: list[str] = []
    size = 0
    merges: list[merkle.Merge] = []
    for seq, leaf, stored_hash, record in _sequenced():
        if seq != expected:
            report.flag("missing" if seq > expected else "duplicate", seq=expected, found=seq)
            expected = seq
        if record is not None:
            if leaf != record.leaf_hash:
                report.flag("content_changed", seq=seq)
            if record.prev_hash != prev:
                report.flag("chain_broken", seq=seq)
            if chain_hash(prev, leaf) != stored_hash:
                report.flag("record_hash_mismatch", seq=seq)
        frontier = merkle.frontier_extend(frontier, size, [leaf], merges.append)
        if len(merges) >= 50_000:  # one per leaf on average: checked in batches
            _check_nodes(merges, report)
        size += 1
        while cp is not None and cp.tree_size <= size:
            if merkle.frontier_root(frontier) != cp.root_hash:
                report.flag("checkpoint_mismatch", tree_size=cp.tree_size)
            _check_signature(cp, report)
            cp = next(checkpoints, None)
        prev = stored_hash
        expected = seq + 1
        report.checked += 1
        if progress is not None and report.checked % PROGRESS_EVERY == 0:
            progress(report.checked)
    _check_nodes(merges, report)
    report.tree_size = expected - 1
    head = ChainHead.objects.filter(pk=1).first()
    if head is not None and (head.seq, head.record_hash) != (report.tree_size, prev):
        report.flag("head_mismatch", head_seq=head.seq, chain_seq=report.tree_size)
    while cp is not None:  # what remains signs a tree larger than the log
        report.flag("checkpoint_beyond_log", tree_size=cp.tree_size)
        _check_signature(cp, report)
        cp = next(checkpoints, None)
    return report


def _check_signature(cp: Checkpoint, report: ChainReport) -> None:
    if not checkpoint_verify_signature(checkpoint_document(cp), cp.public_key):
        report.flag("checkpoint_signature", tree_size=cp.tree_size)


def _check_nodes(merges: list[merkle.Merge], report: ChainReport) -> None:
    """The stored subtree roots (`tree`) against the ones just recomputed; empties `merges`."""
    kept = {(m.level, m.index): m.hash for m in merges if m.level >= tree.LEVEL}
    merges.clear()
    if not kept:
        return
    levels: dict[int, list[int]] = {}
    for level, index in kept:
        levels.setdefault(level, []).append(index)
    wanted = Q()
    for level, indexes in levels.items():
        wanted |= Q(level=level, index__in=indexes)
    for level, index, stored in TreeNode.objects.filter(wanted).values_list(
        "level", "index", "hash"
    ):
        if kept[(level, index)] != stored:
            report.flag("tree_node_mismatch", level=level, index=index)
