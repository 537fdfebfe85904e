"""The Merkle tree of the access log against RFC 9162's recursive definitions (SM3)."""

from hypothesis import given
from hypothesis import strategies as st

from shared.crypto import merkle


def mth(leaves):
    """MTH(D[n]) exactly as RFC 9162 §2.1.1 defines it."""
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return merkle.node_hash(mth(leaves[:k]), mth(leaves[k:]))


def leaves_of(n):
    return [merkle.leaf_hash(f"record {i}".encode()) for i in range(n)]


def test_empty_tree_root_is_sm3_of_nothing():
    assert merkle.root([]) == merkle.EMPTY_ROOT


def test_leaf_and_node_hashes_are_domain_separated():
    a = merkle.leaf_hash(b"x")
    assert merkle.leaf_hash(bytes.fromhex(a + a)) != merkle.node_hash(a, a)


@given(st.integers(min_value=1, max_value=70))
def test_root_matches_the_recursive_definition(n):
    assert merkle.root(leaves_of(n)) == mth(leaves_of(n))


@given(st.integers(min_value=0, max_value=40), st.integers(min_value=1, max_value=40))
def test_frontier_extends_incrementally(old, new):
    leaves = leaves_of(old + new)
    frontier = merkle.frontier_extend([], 0, leaves[:old])
    frontier = merkle.frontier_extend(frontier, old, leaves[old:])
    assert merkle.frontier_root(frontier) == mth(leaves)


@given(st.data())
def test_inclusion_proofs_verify_and_bind_the_leaf(data):
    n = data.draw(st.integers(min_value=1, max_value=60))
    i = data.draw(st.integers(min_value=0, max_value=n - 1))
    leaves = leaves_of(n)
    proof = merkle.inclusion_proof(leaves, i)
    assert merkle.verify_inclusion(leaves[i], i, n, proof, mth(leaves))
    assert not merkle.verify_inclusion(merkle.leaf_hash(b"forged"), i, n, proof, mth(leaves))
    if n > 1:
        assert not merkle.verify_inclusion(leaves[i], (i + 1) % n, n, proof, mth(leaves))


@given(st.data())
def test_consistency_proofs_verify_only_for_prefixes(data):
    n = data.draw(st.integers(min_value=1, max_value=60))
    m = data.draw(st.integers(min_value=1, max_value=n))
    leaves = leaves_of(n)
    proof = merkle.consistency_proof(leaves, m)
    assert merkle.verify_consistency(m, n, mth(leaves[:m]), mth(leaves), proof)
    rewritten = [merkle.leaf_hash(b"rewritten"), *leaves[1:]]
    assert not merkle.verify_consistency(m, n, mth(rewritten[:m]), mth(leaves), proof)


def stored_subtrees(leaves):
    """Every perfect subtree's root as `frontier_extend` reports it, leaves at level 0."""
    nodes = {(0, i): leaf for i, leaf in enumerate(leaves)}
    merkle.frontier_extend(
        [], 0, leaves, merged=lambda m: nodes.__setitem__((m.level, m.index), m.hash)
    )
    return nodes


@given(st.integers(min_value=1, max_value=70))
def test_every_perfect_subtree_is_reported_once_with_its_root(n):
    leaves = leaves_of(n)
    reported = []
    merkle.frontier_extend([], 0, leaves, merged=reported.append)
    expected = {(level, index) for level in range(1, n.bit_length()) for index in range(n >> level)}
    assert {(m.level, m.index) for m in reported} == expected
    assert len(reported) == len(expected)
    for m in reported:
        size = 1 << m.level
        assert m.hash == mth(leaves[m.index * size : (m.index + 1) * size])


@given(st.data())
def test_proofs_from_stored_subtrees_are_the_proofs_from_the_leaves(data):
    n = data.draw(st.integers(min_value=1, max_value=80))
    i = data.draw(st.integers(min_value=0, max_value=n - 1))
    m = data.draw(st.integers(min_value=1, max_value=n))
    leaves = leaves_of(n)
    nodes = stored_subtrees(leaves)
    asked = []

    def subtree(level, index):
        asked.append((level, index))
        return nodes[(level, index)]

    range_hash = merkle.range_hash_of(subtree)
    assert merkle.inclusion_proof_of(range_hash, i, n) == merkle.inclusion_proof(leaves, i)
    assert merkle.consistency_proof_of(range_hash, m, n) == merkle.consistency_proof(leaves, m)
    assert range_hash(0, n) == mth(leaves)
    assert len(asked) <= 4 * n.bit_length() ** 2  # a few dozen for millions, not n
