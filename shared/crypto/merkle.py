"""A Merkle tree over the access log (RFC 9162 §2.1, with SM3 as the hash).

Pure Python, no Django. Leaves are positions 0..n-1 (an access record's ``seq`` minus one); a
leaf hash is ``SM3(0x00 ‖ data)`` and an interior node ``SM3(0x01 ‖ left ‖ right)``, so a leaf
can never be passed off as a node. The root of a tree of size n, an inclusion proof for a leaf
and a consistency proof between two sizes follow RFC 9162 exactly, so any verifier of
Certificate Transparency proofs (with SM3 swapped in) checks them.

A *frontier* is the list of roots of the perfect subtrees that make up a tree of size n, left to
right (one per 1-bit of n, largest first). It is all a checkpoint keeps to extend the tree with
the next leaves without reading the old ones again.

Proofs need the hashes of some ranges of leaves, never the leaves themselves: every range an
RFC 9162 proof names starts on a multiple of a power of two and is that power long, or runs to
the tree's end. `inclusion_proof_of` and `consistency_proof_of` ask a `RangeHash` for them, so a
log of millions keeps the roots of its perfect subtrees (`Merge`s reported by `frontier_extend`)
and answers a proof from a few dozen of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes

EMPTY_ROOT = "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b"  # SM3("")


def _sm3(data: bytes) -> bytes:
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()


def leaf_hash(data: bytes) -> str:
    return _sm3(b"\x00" + data).hex()


def node_hash(left: str, right: str) -> str:
    return _sm3(b"\x01" + bytes.fromhex(left) + bytes.fromhex(right)).hex()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than n (n ≥ 2)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


# MTH(D[start:end]) of the tree being proved.
RangeHash = Callable[[int, int], str]


@dataclass(frozen=True, slots=True)
class Merge:
    """A perfect subtree completed while extending: leaves index·2^level … (index+1)·2^level-1."""

    level: int
    index: int
    hash: str


def root(leaves: Sequence[str]) -> str:
    """MTH(D[n]) of RFC 9162, iteratively (via the frontier)."""
    if not leaves:
        return EMPTY_ROOT
    return frontier_root(frontier_extend([], 0, leaves))


def _subtree(leaves: Sequence[str], start: int, end: int) -> str:
    n = end - start
    if n == 1:
        return leaves[start]
    k = _split(n)
    return node_hash(_subtree(leaves, start, start + k), _subtree(leaves, start + k, end))


def frontier_extend(
    frontier: list[str],
    size: int,
    new_leaves: Sequence[str],
    merged: Callable[[Merge], None] | None = None,
) -> list[str]:
    """The frontier of the tree of size ``size + len(new_leaves)``, from that of size ``size``.

    The frontier of size n holds one perfect-subtree root per 1-bit of n, largest first; adding
    a leaf is binary addition with carries: equal-sized neighbours merge. `merged` is told of
    every perfect subtree so completed (level ≥ 1).
    """
    stack = list(frontier)
    sizes = [1 << b for b in range(size.bit_length() - 1, -1, -1) if size >> b & 1]
    if len(sizes) != len(stack):
        raise ValueError("frontier does not match the tree size")
    for count, leaf in enumerate(new_leaves, start=size + 1):
        stack.append(leaf)
        sizes.append(1)
        while len(sizes) >= 2 and sizes[-1] == sizes[-2]:
            right, left = stack.pop(), stack.pop()
            sizes.pop()
            sizes[-1] *= 2
            stack.append(node_hash(left, right))
            if merged is not None:
                level = sizes[-1].bit_length() - 1
                merged(Merge(level, count // sizes[-1] - 1, stack[-1]))
    return stack


def frontier_root(frontier: Sequence[str]) -> str:
    """The root of the tree whose frontier this is: fold right to left (RFC 9162 shape)."""
    if not frontier:
        return EMPTY_ROOT
    acc = frontier[-1]
    for subtree_root in reversed(frontier[:-1]):
        acc = node_hash(subtree_root, acc)
    return acc


def inclusion_proof(leaves: Sequence[str], index: int) -> list[str]:
    """PATH(m, D[n]) of RFC 9162 §2.1.3.1, leaf-to-root order."""
    return inclusion_proof_of(lambda a, b: _subtree(leaves, a, b), index, len(leaves))


def inclusion_proof_of(range_hash: RangeHash, index: int, n: int) -> list[str]:
    """PATH(index, D[n]), the hashes asked of `range_hash`."""
    if not 0 <= index < n:
        raise ValueError("leaf index outside the tree")
    start, end = 0, n
    path: list[str] = []
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            path.append(range_hash(start + k, end))
            end = start + k
        else:
            path.append(range_hash(start, start + k))
            start = start + k
    return list(reversed(path))


def range_hash_of(subtree: Callable[[int, int], str]) -> RangeHash:
    """A `RangeHash` from the roots of perfect subtrees (`subtree(level, index)`): a range that
    runs to the tree's end is split as MTH splits it, into perfect subtrees."""

    def range_hash(start: int, end: int) -> str:
        n = end - start
        if n & (n - 1) == 0 and start % n == 0:
            return subtree(n.bit_length() - 1, start // n)
        k = _split(n)
        return node_hash(range_hash(start, start + k), range_hash(start + k, end))

    return range_hash


def verify_inclusion(
    leaf: str, index: int, size: int, proof: Sequence[str], root_hash: str
) -> bool:
    """RFC 9162 §2.1.3.2."""
    if not 0 <= index < size:
        return False
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root_hash


def consistency_proof(leaves: Sequence[str], old_size: int) -> list[str]:
    """PROOF(m, D[n]) of RFC 9162 §2.1.4.1: the old tree (size m) is a prefix of the new one."""
    return consistency_proof_of(lambda a, b: _subtree(leaves, a, b), old_size, len(leaves))


def consistency_proof_of(range_hash: RangeHash, old_size: int, n: int) -> list[str]:
    """PROOF(old_size, D[n]), the hashes asked of `range_hash`."""
    if not 0 < old_size <= n:
        raise ValueError("old size must be in 1..n")
    if old_size == n:
        return []
    return _subproof(range_hash, old_size, 0, n, True)


def _subproof(range_hash: RangeHash, m: int, start: int, end: int, complete: bool) -> list[str]:
    n = end - start
    if m == n:
        return [] if complete else [range_hash(start, end)]
    k = _split(n)
    if m <= k:
        return [*_subproof(range_hash, m, start, start + k, complete), range_hash(start + k, end)]
    return [*_subproof(range_hash, m - k, start + k, end, False), range_hash(start, start + k)]


def verify_consistency(
    old_size: int, new_size: int, old_root: str, new_root: str, proof: Sequence[str]
) -> bool:
    """RFC 9162 §2.1.4.2."""
    if old_size <= 0 or old_size > new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is a node of the new tree
        path.insert(0, old_root)
    if not path:
        return False
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root
