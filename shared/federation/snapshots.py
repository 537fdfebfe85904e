"""What travels: JSON snapshots of licences, versions, events, types and agencies.

An outbox payload carries the exact state after the change (written in the same transaction),
so the receiver applies it without calling back, and a replay applies the same state again.
A licence's, version's and event's columns are `shared.licenses.codec`'s.
"""

from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

from shared.accounts.models import Agency
from shared.catalog.models import LicenseType
from shared.licenses import codec
from shared.licenses.models import License, LicenseEvent, LicenseVersion

SCHEMA = 1
_enc = DjangoJSONEncoder()


def _iso(value: Any) -> Any:
    return None if value is None else _enc.default(value)


def agency_snapshot(agency: Agency) -> dict[str, Any]:
    return {
        "code": agency.code,
        "name": agency.name,
        "kind": agency.kind,
        "level": agency.level,
        "area_code": agency.area_code,
        "is_issuer": agency.is_issuer,
        "is_consumer": agency.is_consumer,
    }


TYPE_FIELDS = (
    "type_code",
    "name",
    "definer_name",
    "definer_code",
    "definer_level",
    "issuer_level",
    "holder_category",
    "validity_min_days",
    "validity_max_days",
    "related_matters",
    "surface_schema",
    "template",
    "qr_validity_days",
    "annual_inspection",
    "inspection_window_start",
    "inspection_window_end",
    "requires_review",
    "state",
    "description",
)


# Type fields added after schema 1, with what a snapshot without them (an older peer's) means.
TYPE_FIELDS_ADDED: dict[str, Any] = {"inspection_window_start": "", "inspection_window_end": ""}


def type_snapshot(license_type: LicenseType) -> dict[str, Any]:
    data = {name: getattr(license_type, name) for name in TYPE_FIELDS}
    data["published_at"] = _iso(license_type.published_at)
    data["retired_at"] = _iso(license_type.retired_at)
    data["issuer"] = agency_snapshot(license_type.issuer)
    return data


def license_snapshot(lic: License) -> dict[str, Any]:
    return codec.license_dump(
        lic, type_code=lic.license_type.type_code, issuer=agency_snapshot(lic.issuer)
    )


def version_snapshot(version: LicenseVersion) -> dict[str, Any]:
    return codec.version_dump(version)


def event_snapshot(event: LicenseEvent) -> dict[str, Any]:
    return codec.event_dump(event)
