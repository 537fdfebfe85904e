"""The SQL that keeps bucket digests (shared.federation.digests) in PostgreSQL.

Three statement-level triggers on `licenses_license`, one per kind of change, each over its
transition table: a COPY or multi-row INSERT of 200 licences is one set-based pass (rows
grouped by bucket, one upsert per bucket, one insert of leaves) instead of five statements per
row. At the hub the table is partitioned (provincial_hub.aggregation.partitions); an UPDATE
that moves a row to another partition fires only the UPDATE statement trigger, whose old and
new tables hold the moved row, so the moved licence is counted once out and once in.

The statuses left out are `UNRELEASED` (never leave their library, never compared), written
out as installed: a test holds them equal.
"""

_LEAF = """md5({r}.identifier || '|' || {r}.version || '|' || {r}.status || '|'
           || (CASE WHEN {r}.pledged THEN '1' ELSE '0' END) || '|' || {r}.last_event_seq || '|'
           || {r}.content_digest)"""
_LEVEL0 = (
    "{a}.code || ':' || to_char({r}.case_completed_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM')"
)
_SLICE = "lpad(to_hex(('x' || substr(md5({base}), 1, 2))::bit(8)::int / 4), 2, '0')"
_X = "('x' || substr({leaf}, 1, 16))::bit(64)::bigint"


def _keyed(*, rows: str, r: str, sign: str, where: str = "") -> str:
    """The CTEs `leaves` and `keyed`: each released licence of `rows` (alias `r`) with its
    sign, base key, leaf digest, bucket keys and the leaf's 64-bit value."""
    return f"""leaves AS (
    SELECT {sign} AS sign, {r}.id AS license_id, {r}.library_code AS scope,
           t.type_code || '.' || a.code || '.' || {r}.serial AS base,
           {_LEAF.format(r=r)} AS leaf,
           {_LEVEL0.format(a="a", r=r)} AS l0
    FROM {rows} {r}
    JOIN accounts_agency a ON a.id = {r}.issuer_id
    JOIN catalog_licensetype t ON t.id = {r}.license_type_id
    WHERE {r}.status NOT IN ('pending', 'returned'){where}
  ), keyed AS (
    SELECT sign, license_id, scope, base, leaf, l0,
           l0 || ':' || {_SLICE.format(base="base")} AS l1, {_X.format(leaf="leaf")} AS x
    FROM leaves
  )"""  # noqa: S608 (built from the constants above, no input)


# `delta`: (sign, licence row) pairs; +1 counts a row in, -1 takes it out (xor is its own inverse).
_APPLY_DELTA = f"""
  {_keyed(rows="delta", r="d", sign="d.sign")}, buckets AS (
    INSERT INTO federation_bucket AS b (scope, level, key, parent, count, xor)
    SELECT scope, level, key, parent, sum(sign), bit_xor(x) FROM (
      SELECT scope, 0 AS level, l0 AS key, '' AS parent, sign, x FROM keyed
      UNION ALL
      SELECT scope, 1, l1, l0, sign, x FROM keyed
    ) per_level
    GROUP BY scope, level, key, parent
    ORDER BY scope, level, key  -- one lock order for every writer of the same buckets
    ON CONFLICT (scope, level, key)
    DO UPDATE SET count = b.count + EXCLUDED.count, xor = b.xor # EXCLUDED.xor
  ), gone AS (
    DELETE FROM federation_leaf
    WHERE license_id IN (SELECT license_id FROM keyed WHERE sign < 0)
      AND license_id NOT IN (SELECT license_id FROM keyed WHERE sign > 0)
  )
  INSERT INTO federation_leaf (license_id, scope, slice_key, base, digest)
  SELECT license_id, scope, l1, base, leaf FROM keyed WHERE sign > 0
  ORDER BY license_id
  ON CONFLICT (license_id) DO UPDATE SET scope = EXCLUDED.scope,
    slice_key = EXCLUDED.slice_key, base = EXCLUDED.base, digest = EXCLUDED.digest;
"""  # noqa: S608 (built from the constants above, no input)

# What a leaf or its buckets depend on: an UPDATE that changes none of these changes no digest.
_COMPARED = (
    "identifier, version, status, pledged, last_event_seq, content_digest, library_code, "
    "case_completed_at, issuer_id, license_type_id, serial"
)
_OLD = ", ".join(f"o.{c.strip()}" for c in _COMPARED.split(","))
_NEW = ", ".join(f"n.{c.strip()}" for c in _COMPARED.split(","))

TRIGGER_SQL = f"""
DROP TRIGGER IF EXISTS federation_license_digest ON licenses_license;
DROP FUNCTION IF EXISTS federation_license_changed();
DROP FUNCTION IF EXISTS federation_bucket_apply(licenses_license, integer);

CREATE OR REPLACE FUNCTION federation_digest_added() RETURNS trigger AS $$
BEGIN
  WITH delta AS (SELECT 1 AS sign, n.* FROM added n),
  {_APPLY_DELTA}
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION federation_digest_changed() RETURNS trigger AS $$
BEGIN
  -- most updates (a file made ready, a timestamp) touch nothing a digest is made of
  IF NOT EXISTS (
    SELECT 1 FROM before o JOIN after n ON n.id = o.id
    WHERE ({_OLD}) IS DISTINCT FROM ({_NEW})
  ) THEN
    RETURN NULL;
  END IF;
  WITH changed AS (
    SELECT o.id FROM before o JOIN after n ON n.id = o.id
    WHERE ({_OLD}) IS DISTINCT FROM ({_NEW})
  ), delta AS (
    SELECT -1 AS sign, o.* FROM before o WHERE o.id IN (SELECT id FROM changed)
    UNION ALL
    SELECT 1 AS sign, n.* FROM after n WHERE n.id IN (SELECT id FROM changed)
  ),
  {_APPLY_DELTA}
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION federation_digest_removed() RETURNS trigger AS $$
BEGIN
  WITH delta AS (SELECT -1 AS sign, o.* FROM removed o),
  {_APPLY_DELTA}
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS federation_digest_add ON licenses_license;
CREATE TRIGGER federation_digest_add AFTER INSERT ON licenses_license
  REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION federation_digest_added();
DROP TRIGGER IF EXISTS federation_digest_change ON licenses_license;
CREATE TRIGGER federation_digest_change AFTER UPDATE ON licenses_license
  REFERENCING OLD TABLE AS before NEW TABLE AS after
  FOR EACH STATEMENT EXECUTE FUNCTION federation_digest_changed();
DROP TRIGGER IF EXISTS federation_digest_remove ON licenses_license;
CREATE TRIGGER federation_digest_remove AFTER DELETE ON licenses_license
  REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION federation_digest_removed();
"""  # noqa: S608 (built from the constants above, no input)


# The same bookkeeping, set-based over the whole table: one pass (restores, benchmarks).
_ONE_SCOPE = " AND (%s::text IS NULL OR l.library_code = %s)"
REBUILD_SQL = f"""
WITH {_keyed(rows="licenses_license", r="l", sign="1", where=_ONE_SCOPE)}, buckets AS (
  INSERT INTO federation_bucket (scope, level, key, parent, count, xor)
  SELECT scope, 0, l0, '', count(*), bit_xor(x) FROM keyed GROUP BY scope, l0
  UNION ALL
  SELECT scope, 1, l1, l0, count(*), bit_xor(x) FROM keyed GROUP BY scope, l0, l1
)
INSERT INTO federation_leaf (license_id, scope, slice_key, base, digest)
SELECT license_id, scope, l1, base, leaf FROM keyed
"""  # noqa: S608 (built from the constants above, no input)

DROP_TRIGGER_SQL = """
DROP TRIGGER IF EXISTS federation_license_digest ON licenses_license;
DROP FUNCTION IF EXISTS federation_license_changed();
DROP FUNCTION IF EXISTS federation_bucket_apply(licenses_license, integer);
DROP TRIGGER IF EXISTS federation_digest_add ON licenses_license;
DROP TRIGGER IF EXISTS federation_digest_change ON licenses_license;
DROP TRIGGER IF EXISTS federation_digest_remove ON licenses_license;
DROP FUNCTION IF EXISTS federation_digest_added();
DROP FUNCTION IF EXISTS federation_digest_changed();
DROP FUNCTION IF EXISTS federation_digest_removed();
"""
