"""Filter terms for looking a licence or a version up by its id, its identifier or its holder
alone (issue #16).

At the hub on PostgreSQL the licence and version tables are partitioned by city and year
(`provincial_hub.aggregation.partitions`): a query that names neither plans over every leaf
(~190 at province scale: tens of milliseconds of planning, docs/scaling.md §3). The hub
registers a `Locator` in its AppConfig.ready that reads the plain key tables first (one index
probe) and gives back the partition columns; the terms below then carry `library_code` and
`created_at`, and the planner keeps one leaf. Elsewhere (a city node, the SQLite demo) nothing
is registered and the terms are the plain ones: no extra query.

A row the key tables do not know does not exist (they are written in the same statement as the
row), so its terms are `pk__in=[]`: Django answers empty without asking the database, and a
`.get()` raises DoesNotExist as before.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from shared.licenses.models import License, LicenseVersion

NOTHING: dict[str, Any] = {"pk__in": []}


@dataclass(frozen=True, slots=True, kw_only=True)
class Place:
    """Where a licence (and, found by a version identifier, that version) is stored: each row's
    own partition columns, as its key row holds them."""

    licence_id: int
    library_code: str
    licence_created_at: datetime
    version_library_code: str = ""
    version_created_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Spread:
    """Where a holder's licences are stored: the cities, and the span of their `created_at`."""

    library_codes: tuple[str, ...]
    first: datetime
    last: datetime


class Locator(Protocol):
    def licence(self, *, pk: int) -> Place | None: ...

    def version(self, *, identifier: str) -> Place | None: ...

    def holder(self, *, digests: list[str]) -> Spread | None: ...


_locator: Locator | None = None


def locator_register(locator: Locator | None) -> None:
    global _locator
    _locator = locator


def located() -> bool:
    """Whether this library keeps its licences partitioned behind key tables (a locator is
    registered: the hub on PostgreSQL)."""
    return _locator is not None


def _licence_terms(place: Place, prefix: str = "") -> dict[str, Any]:
    return {
        f"{prefix}pk": place.licence_id,
        f"{prefix}library_code": place.library_code,
        f"{prefix}created_at": place.licence_created_at,
    }


def licence_terms(*, pk: int) -> dict[str, Any]:
    """`License` filter terms for the licence `pk`."""
    if _locator is None:
        return {"pk": pk}
    place = _locator.licence(pk=pk)
    return NOTHING if place is None else _licence_terms(place)


def licence_terms_of(lic: License) -> dict[str, Any]:
    """`License` filter terms to read the licence in hand again (to lock it, say): its own
    partition columns, no extra query."""
    if _locator is None:
        return {"pk": lic.pk}
    return {"pk": lic.pk, "library_code": lic.library_code, "created_at": lic.created_at}


def licence_terms_by_version(identifier: str) -> dict[str, Any]:
    """`License` filter terms for the licence any of whose versions carries `identifier`.
    Without a locator, the version's licence id as it was always read (one query)."""
    if _locator is None:
        license_id = (
            LicenseVersion.objects.filter(identifier=identifier)
            .values_list("license_id", flat=True)
            .first()
        )
        return NOTHING if license_id is None else {"pk": license_id}
    place = _locator.version(identifier=identifier)
    return NOTHING if place is None else _licence_terms(place)


def version_terms(identifier: str, *, joined: bool = False) -> dict[str, Any]:
    """`LicenseVersion` filter terms for the version `identifier`; with `joined`, its licence's
    too (for a query that joins it: `select_related("license")`), so that side keeps one leaf."""
    if _locator is None:
        return {"identifier": identifier}
    place = _locator.version(identifier=identifier)
    if place is None:
        return NOTHING
    terms = {
        "identifier": identifier,
        "library_code": place.version_library_code,
        "created_at": place.version_created_at,
    }
    if joined:
        terms.update(_licence_terms(place, "license__"))
    return terms


def history_terms(lic: License) -> dict[str, Any]:
    """`LicenseVersion`/`LicenseEvent` filter terms for a licence's history. A licence's versions
    and events carry its city (`library_code`, the hub's first partition key), so at the hub the
    city is named too and the planner keeps that city's leaves only, with no extra query."""
    if _locator is None:
        return {"license": lic}
    return {"license": lic, "library_code": lic.library_code}


def holder_terms(digests: list[str], *, prefix: str = "") -> dict[str, Any]:
    """`License` filter terms for the licences of the holder whose code has these digests
    (either version during a rotation). At the hub the key table gives their cities and the
    span of their storing times, so the plan keeps those cities' leaves of those years rather
    than every leaf; a holder the key table does not know has no licence here."""
    terms: dict[str, Any] = {f"{prefix}holder_code_digest__in": digests}
    if _locator is None:
        return terms
    spread = _locator.holder(digests=digests)
    if spread is None:
        return {f"{prefix}pk__in": []}
    terms[f"{prefix}library_code__in"] = spread.library_codes
    terms[f"{prefix}created_at__range"] = (spread.first, spread.last)
    return terms
