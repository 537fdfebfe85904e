"""Bucket digests of a library's licences, for reconciliation.

A licence's leaf digest is md5 over the fields that must agree at both ends (identifier,
version, status, pledge flag, event count, content digest); md5 here detects change, it does not
authenticate anything (the envelopes do that), and it is the one digest PostgreSQL computes
natively, so the triggers (shared.federation.digest_sql) and the Python code compute the same value.

Level 0 buckets are issuer × month of case completion; level 1 splits each into 64 by the
licence's base identifier; level 2 are the licences themselves.
"""

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, connections
from django.db.models import F

from shared.accounts.libraries import agency_library
from shared.accounts.models import Agency
from shared.catalog.models import LicenseType
from shared.domain.status import UNRELEASED
from shared.exchange.reconcile import Digests
from shared.federation.digest_sql import REBUILD_SQL
from shared.federation.models import Bucket, Leaf
from shared.federation.snapshots import type_snapshot
from shared.licenses.models import License
from shared.licenses.selectors import licences_by_natural_key

TZ = ZoneInfo("Asia/Shanghai")
MASK64 = (1 << 64) - 1
# What a licence's leaf digest is made of, as read from the database (`leaf_digest`).
LEAF_COLUMNS = (
    "license_type__type_code",
    "serial",
    "identifier",
    "version",
    "status",
    "pledged",
    "last_event_seq",
    "content_digest",
)


def base_key(*, type_code: str, issuer_code: str, serial: str) -> str:
    return f"{type_code}.{issuer_code}.{serial}"


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def leaf_digest(
    *,
    identifier: str,
    version: int,
    status: str,
    pledged: bool,
    last_event_seq: int,
    content_digest: str,
) -> str:
    return _md5(
        f"{identifier}|{version}|{status}|{'1' if pledged else '0'}|{last_event_seq}|{content_digest}"
    )


def _slice(base: str) -> str:
    """One of 64 slices of a level-0 bucket (at a million licences: about 65 licences each)."""
    return f"{int(_md5(base)[:2], 16) // 4:02x}"


def _signed64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def bucket_keys(*, issuer_code: str, case_completed_at: datetime, base: str) -> tuple[str, str]:
    l0 = f"{issuer_code}:{case_completed_at.astimezone(TZ):%Y-%m}"
    return l0, f"{l0}:{_slice(base)}"


def uses_trigger() -> bool:
    return connection.vendor == "postgresql"


def apply_in_python(lic: License, sign: int) -> None:
    """SQLite: the same bookkeeping the PostgreSQL trigger does, called by the application."""
    base = base_key(
        type_code=lic.license_type.type_code, issuer_code=lic.issuer.code, serial=lic.serial
    )
    leaf = leaf_digest(
        identifier=lic.identifier,
        version=lic.version,
        status=lic.status,
        pledged=lic.pledged,
        last_event_seq=lic.last_event_seq,
        content_digest=lic.content_digest,
    )
    x = _signed64(int(leaf[:16], 16))
    for level, key in enumerate(
        bucket_keys(issuer_code=lic.issuer.code, case_completed_at=lic.case_completed_at, base=base)
    ):
        bucket, _ = Bucket.objects.get_or_create(
            scope=lic.library_code,
            level=level,
            key=key,
            defaults={"parent": key.rsplit(":", 1)[0] if level else ""},
        )
        Bucket.objects.filter(pk=bucket.pk).update(count=F("count") + sign)
        bucket.refresh_from_db()
        bucket.xor = _signed64((bucket.xor ^ x) & MASK64)
        bucket.save(update_fields=["xor"])


def rebuild_buckets(scope: str | None = None) -> int:
    """Recompute buckets from the licence rows (after a restore, or to start on SQLite)."""
    Bucket.objects.filter(**({"scope": scope} if scope else {})).delete()
    Leaf.objects.filter(**({"scope": scope} if scope else {})).delete()
    if uses_trigger():
        with connection.cursor() as cursor:
            cursor.execute(REBUILD_SQL, [scope, scope])
            return cursor.rowcount
    count = 0
    licences = License.objects.select_related("license_type", "issuer").exclude(
        status__in=UNRELEASED
    )
    for lic in licences.filter(**({"library_code": scope} if scope else {})).iterator():
        apply_in_python(lic, 1)
        count += 1
    return count


class DatabaseDigests:
    """This library's digests for one scope (the library code the licences belong to)."""

    def __init__(self, scope: str, using: str = "default") -> None:
        self.scope = scope
        self.using = using

    def digests(self, level: int, prefixes: list[str]) -> Digests:
        if level < 2:
            rows = Bucket.objects.using(self.using).filter(scope=self.scope, level=level)
            rows = rows.exclude(count=0)
            if level == 1:
                rows = rows.filter(parent__in=prefixes)
            return {
                key: (count, f"{xor & MASK64:016x}")
                for key, count, xor in rows.values_list("key", "count", "xor")
            }
        return self.leaves(prefixes)

    def leaves(self, prefixes: list[str]) -> Digests:
        if connections[self.using].vendor == "postgresql":
            rows = Leaf.objects.using(self.using).filter(scope=self.scope, slice_key__in=prefixes)
            return {base: (1, digest) for base, digest in rows.values_list("base", "digest")}
        wanted: dict[tuple[str, str], set[str]] = defaultdict(set)
        for prefix in prefixes:
            issuer, month, slice_ = prefix.split(":")
            wanted[(issuer, month)].add(slice_)
        result: Digests = {}
        for (issuer, month), slices in wanted.items():
            year, mon = int(month[:4]), int(month[5:7])
            start = datetime(year, mon, 1, tzinfo=TZ)
            end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=TZ)
            licences = (
                License.objects.using(self.using)
                .exclude(status__in=UNRELEASED)
                .filter(
                    library_code=self.scope,
                    issuer__code=issuer,
                    case_completed_at__gte=start,
                    case_completed_at__lt=end,
                )
                .values_list(*LEAF_COLUMNS)
            )
            for type_code, serial, ident, version, status, pledged, seq, digest in licences:
                base = base_key(type_code=type_code, issuer_code=issuer, serial=serial)
                if _slice(base) not in slices:
                    continue
                result[base] = (
                    1,
                    leaf_digest(
                        identifier=ident,
                        version=version,
                        status=status,
                        pledged=pledged,
                        last_event_seq=seq,
                        content_digest=digest,
                    ),
                )
        return result


class MemoryDigests:
    """Digests of a given set of leaves, bucketed as the trigger buckets them: the hub's side of
    the downward comparison, whose scope (the hub's licences pushed to one city) is a subset of
    the hub's own bucket scope. Built from the rows in one pass (cost: the pushed licences)."""

    def __init__(self, leaves: dict[str, tuple[str, str, str]]) -> None:
        self.leaves_by_base = leaves  # base key -> (level-0 key, level-1 key, leaf digest)

    def digests(self, level: int, prefixes: list[str]) -> Digests:
        if level == 2:
            wanted = set(prefixes)
            return {b: (1, d) for b, (_, l1, d) in self.leaves_by_base.items() if l1 in wanted}
        acc: dict[str, list[int]] = {}
        wanted = set(prefixes)
        for l0, l1, digest in self.leaves_by_base.values():
            if level == 1 and l0 not in wanted:
                continue
            slot = acc.setdefault(l0 if level == 0 else l1, [0, 0])
            slot[0] += 1
            slot[1] ^= int(digest[:16], 16)
        return {k: (count, f"{x & MASK64:016x}") for k, (count, x) in acc.items()}


def natural_keys(keys: Iterable[str]) -> list[tuple[int, int, str]]:
    """(issuer id, type id, serial) of base keys `type.issuer.serial` whose type and issuer
    are known here, for `licences_by_natural_key`."""
    parts = [k.split(".", 2) for k in keys if k.count(".") >= 2]
    issuers = dict(Agency.objects.filter(code__in={p[1] for p in parts}).values_list("code", "pk"))
    types = dict(
        LicenseType.objects.filter(type_code__in={p[0] for p in parts}).values_list(
            "type_code", "pk"
        )
    )
    return [
        (issuers[issuer_code], types[type_code], serial)
        for type_code, issuer_code, serial in parts
        if type_code in types and issuer_code in issuers
    ]


LEAVES_CHUNK = 2_000


def _leaf_rows(scope: str, keys: set[str]) -> Iterator[tuple]:
    """The leaf columns of the released licences of `scope` named by `keys`, read by their
    natural keys a chunk at a time (not every licence of their issuers)."""
    exact = natural_keys(keys)
    for start in range(0, len(exact), LEAVES_CHUNK):
        yield from (
            licences_by_natural_key(exact[start : start + LEAVES_CHUNK])
            .filter(library_code=scope)
            .exclude(status__in=UNRELEASED)
            .order_by()
            .values_list(*LEAF_COLUMNS, "issuer__code", "case_completed_at")
        )


def licence_leaves(*, scope: str, keys: set[str]) -> MemoryDigests:
    """The released licences of library `scope` named by `keys` (base keys), as digests."""
    rows = _leaf_rows(scope, keys)
    leaves: dict[str, tuple[str, str, str]] = {}
    for type_code, serial, ident, version, status, pledged, seq, digest, issuer, done in rows:
        base = base_key(type_code=type_code, issuer_code=issuer, serial=serial)
        if base not in keys:
            continue
        l0, l1 = bucket_keys(issuer_code=issuer, case_completed_at=done, base=base)
        leaf = leaf_digest(
            identifier=ident,
            version=version,
            status=status,
            pledged=pledged,
            last_event_seq=seq,
            content_digest=digest,
        )
        leaves[base] = (l0, l1, leaf)
    return MemoryDigests(leaves)


def type_digests(scope: str) -> Digests:
    """The catalogue of library `scope` as this library holds it: type code -> (1, md5 of the
    type's snapshot with its issuer's code). Drafts never leave their library, so they are not
    compared; the issuer agency's other fields are left out (only its name travels again)."""
    result: Digests = {}
    types = LicenseType.objects.select_related("issuer").exclude(state=LicenseType.State.DRAFT)
    for license_type in types:
        issuer = license_type.issuer
        if agency_library(level=issuer.level, area_code=issuer.area_code) != scope:
            continue
        snapshot = type_snapshot(license_type) | {"issuer": issuer.code}
        text = json.dumps(snapshot, sort_keys=True, ensure_ascii=False, cls=DjangoJSONEncoder)
        result[license_type.type_code] = (1, _md5(text))
    return result
