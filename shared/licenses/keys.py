"""Is this licence, version or event held here already? — asked by ingest for a whole envelope.

The question is about keys that are unique across the whole library (an identifier, an
issuer's type and serial, a licence's version or event number), so it names no city. At the
hub on PostgreSQL the licence tables are partitioned by city and year, and such a query plans
over every partition (57 leaves on a fresh hub, ~190 after some years: 2–40 ms of planning
each time, more than the rows it finds); the plain key tables kept beside them
(provincial_hub.aggregation.partitions) answer it with one index probe. Everywhere else —
a node, the SQLite demo — the tables themselves answer, as before.
"""

from collections.abc import Iterable
from typing import Any

from django.db import connection
from django.db.models import Q

from shared.licenses import lookups
from shared.licenses.models import License, LicenseEvent, LicenseVersion


def key_tables() -> bool:
    """Whether this database keeps `licenses_*_key`: the hub on PostgreSQL, which registers
    its locator (`shared.licenses.lookups`) for the same reason."""
    return lookups.located()


def _rows(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def held_identifiers(identifiers: Iterable[str]) -> set[str]:
    """The licence identifiers among `identifiers` that a licence here carries."""
    wanted = list(set(identifiers))
    if not wanted:
        return set()
    if key_tables():
        sql = "SELECT identifier FROM licenses_license_key WHERE identifier = ANY(%s)"
        return {row[0] for row in _rows(sql, [wanted])}
    return set(License.objects.filter(identifier__in=wanted).values_list("identifier", flat=True))


def _by_natural_key(
    table: str, columns: str, keys: list[tuple[int, int, str]]
) -> list[tuple[Any, ...]]:
    """`columns` of the rows of `table` named by (issuer id, type id, serial): one join against
    the keys as arrays, one index probe each (PostgreSQL)."""
    issuers, types, serials = (list(column) for column in zip(*keys, strict=True))
    sql = (
        f"SELECT {columns} FROM {table} l "  # noqa: S608 - this module's own names
        "JOIN unnest(%s::bigint[], %s::bigint[], %s::text[]) AS k(issuer_id, type_id, serial) "
        "ON l.issuer_id = k.issuer_id AND l.license_type_id = k.type_id AND l.serial = k.serial"
    )
    return _rows(sql, [issuers, types, serials])


def held_natural_keys(keys: Iterable[tuple[int, int, str]]) -> set[tuple[int, int, str]]:
    """The (issuer id, type id, serial) among `keys` that a licence here has."""
    wanted = list(set(keys))
    if not wanted:
        return set()
    if connection.vendor == "postgresql":
        table = "licenses_license_key" if key_tables() else "licenses_license"
        found = _by_natural_key(table, "l.issuer_id, l.license_type_id, l.serial", wanted)
        return {(a, b, c) for a, b, c in found}
    exact = Q(pk__in=[])
    for issuer_id, type_id, serial in wanted:
        exact |= Q(issuer_id=issuer_id, license_type_id=type_id, serial=serial)
    held = License.objects.filter(exact).values_list("issuer_id", "license_type_id", "serial")
    return set(held)


def natural_key_rows(keys: Iterable[tuple[int, int, str]]) -> list[tuple[int, str]]:
    """(id, library code) of the licences named by (issuer id, type id, serial), from the key
    table (`key_tables()` only)."""
    wanted = list(set(keys))
    if not wanted:
        return []
    found = _by_natural_key("licenses_license_key", "l.id, l.library_code", wanted)
    return [(pk, city) for pk, city in found]


def identifier_owners(identifiers: Iterable[str]) -> dict[str, tuple[int, int, str]]:
    """identifier → (issuer id, type id, serial) of the licence here that carries it."""
    wanted = list(set(identifiers))
    if not wanted:
        return {}
    if key_tables():
        sql = (
            "SELECT identifier, issuer_id, license_type_id, serial FROM licenses_license_key "
            "WHERE identifier = ANY(%s)"
        )
        return {ident: (a, b, c) for ident, a, b, c in _rows(sql, [wanted])}
    found = License.objects.filter(identifier__in=wanted).values_list(
        "identifier", "issuer_id", "license_type_id", "serial"
    )
    return {ident: (a, b, c) for ident, a, b, c in found}


def held_history(
    license_ids: Iterable[int], version_identifiers: Iterable[str]
) -> tuple[set[tuple[int, int]], set[str], set[tuple[int, int]]]:
    """What history these licences hold: their (licence, version) pairs, which of
    `version_identifiers` any version here carries, and their (licence, event seq) pairs."""
    ids, idents = list(set(license_ids)), list(set(version_identifiers))
    if key_tables():
        versions = (
            "SELECT license_id, version FROM licenses_licenseversion_key WHERE license_id = ANY(%s)"
        )
        carried = "SELECT identifier FROM licenses_licenseversion_key WHERE identifier = ANY(%s)"
        events = "SELECT license_id, seq FROM licenses_licenseevent_key WHERE license_id = ANY(%s)"
        return (
            {(a, b) for a, b in _rows(versions, [ids])},
            {row[0] for row in _rows(carried, [idents])},
            {(a, b) for a, b in _rows(events, [ids])},
        )
    return (
        set(LicenseVersion.objects.filter(license_id__in=ids).values_list("license_id", "version")),
        set(
            LicenseVersion.objects.filter(identifier__in=idents).values_list(
                "identifier", flat=True
            )
        ),
        set(LicenseEvent.objects.filter(license_id__in=ids).values_list("license_id", "seq")),
    )
