"""Where a hub licence is stored, read from the plain key tables (`shared.licenses.lookups`).

A lookup by id or identifier alone plans over every leaf of the partitioned tables; one indexed
read of a key table (not partitioned) gives the city and `created_at` the row was stored with,
and the caller's query then names its partition (docs/scaling.md §3). The key rows are written
by triggers in the same statement as the rows, so what the key tables do not know does not
exist, and they are read on the same connection as the query that follows.
"""

from typing import Any

from django.db import connection

from shared.licenses.lookups import Place, Spread, locator_register

# The key tables of partitions.LICENCE and partitions.VERSION.
_VERSION_SQL = (
    "SELECT l.id, l.library_code, l.created_at, v.library_code, v.created_at "
    "FROM licenses_licenseversion_key v JOIN licenses_license_key l ON l.id = v.license_id "
    "WHERE v.identifier = %s"
)
_LICENCE_SQL = "SELECT id, library_code, created_at FROM licenses_license_key WHERE id = %s"
_HOLDER_SQL = (
    "SELECT array_agg(DISTINCT library_code ORDER BY library_code), min(created_at), "
    "max(created_at) FROM licenses_license_key WHERE holder_code_digest = ANY(%s)"
)


def _one(sql: str, params: list[Any]) -> tuple[Any, ...] | None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


class KeyTableLocator:
    def licence(self, *, pk: int) -> Place | None:
        row = _one(_LICENCE_SQL, [pk])
        if row is None:
            return None
        return Place(licence_id=row[0], library_code=row[1], licence_created_at=row[2])

    def version(self, *, identifier: str) -> Place | None:
        row = _one(_VERSION_SQL, [identifier])
        if row is None:
            return None
        return Place(
            licence_id=row[0],
            library_code=row[1],
            licence_created_at=row[2],
            version_library_code=row[3],
            version_created_at=row[4],
        )

    def holder(self, *, digests: list[str]) -> Spread | None:
        row = _one(_HOLDER_SQL, [list(digests)])
        if row is None or not row[0]:
            return None
        return Spread(library_codes=tuple(row[0]), first=row[1], last=row[2])


def register() -> None:
    """Only PostgreSQL partitions the tables (migration 0004); the SQLite demo keeps plain
    tables and plain lookups."""
    locator_register(KeyTableLocator() if connection.vendor == "postgresql" else None)
