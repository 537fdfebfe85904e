"""What travels: JSON snapshots of licences, versions, events, types and agencies.

An outbox payload carries the exact state after the change (written in the same transaction),
so the receiver applies it without calling back, and a replay applies the same state again.
"""

from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

from shared.accounts.models import Agency
from shared.catalog.models import LicenseType
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
    "requires_review",
    "state",
    "description",
)


def type_snapshot(license_type: LicenseType) -> dict[str, Any]:
    data = {name: getattr(license_type, name) for name in TYPE_FIELDS}
    data["published_at"] = _iso(license_type.published_at)
    data["retired_at"] = _iso(license_type.retired_at)
    data["issuer"] = agency_snapshot(license_type.issuer)
    return data


def license_snapshot(lic: License) -> dict[str, Any]:
    return {
        "identifier": lic.identifier,
        "type_code": lic.license_type.type_code,
        "issuer": agency_snapshot(lic.issuer),
        "serial": lic.serial,
        "version": lic.version,
        "number": lic.number,
        "status": lic.status,
        "pledged": lic.pledged,
        "pledgee": lic.pledgee,
        "pledge_until": _iso(lic.pledge_until),
        "holder": {
            "name": lic.holder_name,
            "code": lic.holder_code,
            "code_type": lic.holder_code_type,
        },
        "issue_date": _iso(lic.issue_date),
        "valid_from": _iso(lic.valid_from),
        "valid_to": _iso(lic.valid_to),
        "area_code": lic.area_code,
        "matter_code": lic.matter_code,
        "surface": lic.surface,
        "mode": lic.mode,
        "case_completed_at": _iso(lic.case_completed_at),
        "sync_deadline": _iso(lic.sync_deadline),
        "sync_deadline_provisional": lic.sync_deadline_provisional,
        "content_digest": lic.content_digest,
        "library_code": lic.library_code,
        "last_event_seq": lic.last_event_seq,
    }


def version_snapshot(version: LicenseVersion) -> dict[str, Any]:
    return {
        "version": version.version,
        "identifier": version.identifier,
        "number": version.number,
        "holder": {
            "name": version.holder_name,
            "code": version.holder_code,
            "code_type": version.holder_code_type,
        },
        "issue_date": _iso(version.issue_date),
        "valid_from": _iso(version.valid_from),
        "valid_to": _iso(version.valid_to),
        "matter_code": version.matter_code,
        "surface": version.surface,
        "previous_identifier": version.previous_identifier,
        "content_digest": version.content_digest,
        "created_at": _iso(version.created_at),
    }


def event_snapshot(event: LicenseEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "action": event.action,
        "from_status": event.from_status,
        "to_status": event.to_status,
        "version": event.version,
        "identifier": event.identifier,
        "reason": event.reason,
        "data": event.data,
        "actor": event.actor.username if event.actor_id else event.data.get("actor", ""),
        "actor_agency_code": event.actor_agency_code,
        "created_at": _iso(event.created_at),
    }
