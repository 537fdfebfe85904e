"""Bucket digests of a library's licences, for reconciliation.

A licence's leaf digest is md5 over the fields that must agree at both ends (identifier,
version, status, pledge flag, event count, content digest); md5 here detects change, it does not
authenticate anything (the envelopes do that), and it is the one digest PostgreSQL computes
natively, so the trigger below and the Python code compute the same value.

Level 0 buckets are issuer × month of case completion; level 1 splits each into 64 by the
licence's base identifier; level 2 are the licences themselves.
"""

import hashlib
from collections import defaultdict
from datetime import datetime
from zoneinfo import ZoneInfo

from django.db import connection, connections
from django.db.models import F

from shared.domain.status import UNRELEASED
from shared.exchange.reconcile import Digests
from shared.federation.models import Bucket, Leaf
from shared.licenses.models import License

TZ = ZoneInfo("Asia/Shanghai")
MASK64 = (1 << 64) - 1

# Installed by migration on PostgreSQL: keeps `federation_bucket` in step with every change to
# `licenses_license`, including changes made by hand in the database. The statuses it and
# REBUILD_SQL leave out are `UNRELEASED`, written out as installed (a test holds them equal).
TRIGGER_SQL = r"""
CREATE OR REPLACE FUNCTION federation_bucket_apply(lic licenses_license, sign integer)
RETURNS void AS $$
DECLARE
  v_issuer text; v_type text; v_base text; v_l0 text; v_l1 text; v_leaf text; v_x bigint;
BEGIN
  IF lic.status IN ('pending', 'returned') THEN
    RETURN;  -- not released: never leaves the library, so never compared
  END IF;
  SELECT code INTO v_issuer FROM accounts_agency WHERE id = lic.issuer_id;
  SELECT type_code INTO v_type FROM catalog_licensetype WHERE id = lic.license_type_id;
  v_base := v_type || '.' || v_issuer || '.' || lic.serial;
  v_l0 := v_issuer || ':' || to_char(lic.case_completed_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM');
  v_l1 := v_l0 || ':' || lpad(to_hex(('x' || substr(md5(v_base), 1, 2))::bit(8)::int / 4), 2, '0');
  v_leaf := md5(lic.identifier || '|' || lic.version || '|' || lic.status || '|'
                || (CASE WHEN lic.pledged THEN '1' ELSE '0' END) || '|'
                || lic.last_event_seq || '|' || lic.content_digest);
  v_x := ('x' || substr(v_leaf, 1, 16))::bit(64)::bigint;
  INSERT INTO federation_bucket(scope, level, key, parent, count, xor)
    VALUES (lic.library_code, 0, v_l0, '', sign, v_x)
    ON CONFLICT (scope, level, key)
    DO UPDATE SET count = federation_bucket.count + sign, xor = federation_bucket.xor # v_x;
  INSERT INTO federation_bucket(scope, level, key, parent, count, xor)
    VALUES (lic.library_code, 1, v_l1, v_l0, sign, v_x)
    ON CONFLICT (scope, level, key)
    DO UPDATE SET count = federation_bucket.count + sign, xor = federation_bucket.xor # v_x;
  IF sign < 0 THEN
    DELETE FROM federation_leaf WHERE license_id = lic.id;
  ELSE
    INSERT INTO federation_leaf(license_id, scope, slice_key, base, digest)
      VALUES (lic.id, lic.library_code, v_l1, v_base, v_leaf)
      ON CONFLICT (license_id) DO UPDATE SET scope = EXCLUDED.scope,
        slice_key = EXCLUDED.slice_key, base = EXCLUDED.base, digest = EXCLUDED.digest;
  END IF;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION federation_license_changed() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    IF OLD.identifier IS NOT DISTINCT FROM NEW.identifier
       AND OLD.version IS NOT DISTINCT FROM NEW.version
       AND OLD.status IS NOT DISTINCT FROM NEW.status
       AND OLD.pledged IS NOT DISTINCT FROM NEW.pledged
       AND OLD.last_event_seq IS NOT DISTINCT FROM NEW.last_event_seq
       AND OLD.content_digest IS NOT DISTINCT FROM NEW.content_digest
       AND OLD.library_code IS NOT DISTINCT FROM NEW.library_code
       AND OLD.case_completed_at IS NOT DISTINCT FROM NEW.case_completed_at THEN
      RETURN NULL;
    END IF;
  END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    PERFORM federation_bucket_apply(OLD, -1);
  END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') THEN
    PERFORM federation_bucket_apply(NEW, 1);
  END IF;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS federation_license_digest ON licenses_license;
CREATE TRIGGER federation_license_digest
  AFTER INSERT OR UPDATE OR DELETE ON licenses_license
  FOR EACH ROW EXECUTE FUNCTION federation_license_changed();
"""

# The same bookkeeping as the trigger, set-based: one pass over the table (restores, benchmarks).
REBUILD_SQL = """
WITH leaves AS (
  SELECT l.id AS license_id, l.library_code AS scope,
         t.type_code || '.' || a.code || '.' || l.serial AS base,
         md5(l.identifier || '|' || l.version || '|' || l.status || '|'
           || (CASE WHEN l.pledged THEN '1' ELSE '0' END) || '|' || l.last_event_seq || '|'
           || l.content_digest) AS leaf,
         a.code || ':' || to_char(l.case_completed_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM') AS l0,
         lpad(to_hex(('x' || substr(md5(t.type_code || '.' || a.code || '.' || l.serial), 1, 2))::bit(8)::int / 4), 2, '0') AS slice,
         ('x' || substr(md5(l.identifier || '|' || l.version || '|' || l.status || '|'
           || (CASE WHEN l.pledged THEN '1' ELSE '0' END) || '|' || l.last_event_seq || '|'
           || l.content_digest), 1, 16))::bit(64)::bigint AS x
  FROM licenses_license l
  JOIN accounts_agency a ON a.id = l.issuer_id
  JOIN catalog_licensetype t ON t.id = l.license_type_id
  WHERE l.status NOT IN ('pending', 'returned') AND (%s::text IS NULL OR l.library_code = %s)
), buckets AS (
  INSERT INTO federation_bucket (scope, level, key, parent, count, xor)
  SELECT scope, 0, l0, '', count(*), bit_xor(x) FROM leaves GROUP BY scope, l0
  UNION ALL
  SELECT scope, 1, l0 || ':' || slice, l0, count(*), bit_xor(x) FROM leaves GROUP BY scope, l0, slice
)
INSERT INTO federation_leaf (license_id, scope, slice_key, base, digest)
SELECT license_id, scope, l0 || ':' || slice, base, leaf FROM leaves
"""

DROP_TRIGGER_SQL = """
DROP TRIGGER IF EXISTS federation_license_digest ON licenses_license;
DROP FUNCTION IF EXISTS federation_license_changed();
DROP FUNCTION IF EXISTS federation_bucket_apply(licenses_license, integer);
"""


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
                .values_list(
                    "license_type__type_code",
                    "serial",
                    "identifier",
                    "version",
                    "status",
                    "pledged",
                    "last_event_seq",
                    "content_digest",
                )
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
