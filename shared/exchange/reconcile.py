"""Reconciliation by bucket digests (DESIGN §6). Pure: no Django.

Both sides answer `digests(level, prefix)` with `{key: (count, digest)}` for the buckets under
`prefix` at `level` (0: issuer × month; 1: a 1/256 slice of such a bucket; 2: single licences).
The walk descends only into buckets whose digests differ, so its cost grows with the number
of differences, not with the size of the library.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

LEAF_LEVEL = 2

Digests = dict[str, tuple[int, str]]


class DigestSource(Protocol):
    def digests(self, level: int, prefixes: list[str]) -> Digests: ...


@dataclass(slots=True)
class Difference:
    """What differs at leaf level: keys (licence base identifiers) by kind."""

    missing_remote: list[str] = field(default_factory=list)  # local has, remote lacks
    missing_local: list[str] = field(default_factory=list)  # remote has, local lacks
    different: list[str] = field(default_factory=list)  # both have, states differ
    buckets_compared: int = 0
    round_trips: int = 0

    @property
    def total(self) -> int:
        return len(self.missing_remote) + len(self.missing_local) + len(self.different)


def _differing(local: Digests, remote: Digests) -> Iterable[str]:
    for key in sorted(set(local) | set(remote)):
        if local.get(key) != remote.get(key):
            yield key


def compare(local: DigestSource, remote: DigestSource, *, batch: int = 200) -> Difference:
    """Walk both trees from the top, descending only where they differ."""
    diff = Difference()
    prefixes: list[str] = [""]
    for level in range(LEAF_LEVEL + 1):
        next_prefixes: list[str] = []
        for start in range(0, len(prefixes), batch):
            chunk = prefixes[start : start + batch]
            mine = local.digests(level, chunk)
            theirs = remote.digests(level, chunk)
            diff.round_trips += 1
            diff.buckets_compared += len(set(mine) | set(theirs))
            for key in _differing(mine, theirs):
                if level < LEAF_LEVEL:
                    next_prefixes.append(key)
                elif key not in theirs:
                    diff.missing_remote.append(key)
                elif key not in mine:
                    diff.missing_local.append(key)
                else:
                    diff.different.append(key)
        prefixes = next_prefixes
        if not prefixes:
            break
    return diff
