"""The reconciliation walk finds every difference and descends only where trees differ."""

import hashlib
import random

from shared.exchange.reconcile import compare


class MemorySource:
    """Leaves {key: digest} grouped as level 0 = key[:1], level 1 = key[:2], level 2 = key."""

    def __init__(self, leaves):
        self.leaves = leaves
        self.calls = 0

    def _group(self, keys, width):
        out = {}
        for key in keys:
            bucket = key[:width]
            count, acc = out.get(bucket, (0, 0))
            out[bucket] = (count + 1, acc ^ int(self.leaves[key][:16], 16))
        return {k: (c, f"{x:016x}") for k, (c, x) in out.items()}

    def digests(self, level, prefixes):
        self.calls += 1
        if level == 0:
            return self._group(self.leaves, 1)
        if level == 1:
            keys = [k for k in self.leaves if k[:1] in prefixes]
            return self._group(keys, 2)
        return {k: (1, self.leaves[k]) for k in self.leaves if k[:2] in prefixes}


def digest(text):
    return hashlib.sha256(text.encode()).hexdigest()


def test_identical_trees_cost_one_round_trip():
    leaves = {
        f"{a}{b}{i:03d}": digest(f"{a}{b}{i}") for a in "abc" for b in "xyz" for i in range(50)
    }
    diff = compare(MemorySource(leaves), MemorySource(dict(leaves)))
    assert diff.total == 0
    assert diff.round_trips == 1


def test_every_kind_of_difference_is_found():
    rng = random.Random(7)
    leaves = {
        f"{a}{b}{i:03d}": digest(f"{a}{b}{i}")
        for a in "abcdef"
        for b in "uvwxyz"
        for i in range(100)
    }
    remote = dict(leaves)
    keys = sorted(leaves)
    missing = rng.sample(keys, 5)
    changed = rng.sample([k for k in keys if k not in missing], 5)
    for key in missing:
        del remote[key]
    for key in changed:
        remote[key] = digest("stale" + key)
    extra = ["a9999", "f8888"]
    for key in extra:
        remote[key] = digest(key)
    diff = compare(MemorySource(leaves), MemorySource(remote))
    assert sorted(diff.missing_remote) == sorted(missing)
    assert sorted(diff.different) == sorted(changed)
    assert sorted(diff.missing_local) == sorted(extra)
    assert diff.round_trips == 3
    # only the buckets on the paths to differences were opened: 12 of 36 slices, not all 3,600
    assert diff.buckets_compared < len(leaves) // 3
