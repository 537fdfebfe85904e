"""Applying one received event to this library's tables (the receiver side of the outbox).

Rules (DESIGN §6): an older state never overwrites a newer one — a licence is updated only by
an event with a higher per-licence sequence than the one stored; versions and events are
immutable and inserted once. A repair carries the sender's whole licence and is authoritative
for licences the sender owns: it overwrites whatever the receiver holds (even a row someone
altered by hand) and restores missing versions and events.
"""

from datetime import date, datetime
from typing import Any

from django.db import transaction

from shared.accounts.models import Agency
from shared.catalog.models import LicenseType
from shared.core.errors import PermanentError
from shared.federation.snapshots import TYPE_FIELDS
from shared.licenses.models import License, LicenseEvent, LicenseVersion


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _agency(snapshot: dict[str, Any]) -> Agency:
    agency, created = Agency.objects.get_or_create(
        code=snapshot["code"],
        defaults={
            k: snapshot[k]
            for k in ("name", "kind", "level", "area_code", "is_issuer", "is_consumer")
        },
    )
    if not created and agency.name != snapshot["name"]:
        agency.name = snapshot["name"]
        agency.save(update_fields=["name", "updated_at"])
    return agency


def apply_type(payload: dict[str, Any], *, sender: str) -> None:
    snap = payload["type"]
    issuer = _agency(snap["issuer"])
    existing = LicenseType.objects.filter(type_code=snap["type_code"]).first()
    if existing is not None and existing.issuer_id != issuer.pk:
        raise PermanentError(
            "federation.type_conflict",
            "证照类型代码已由其他签发单位登记",
            {"type_code": snap["type_code"]},
        )
    fields = {k: snap[k] for k in TYPE_FIELDS if k != "type_code"}
    fields["published_at"] = _dt(snap.get("published_at"))
    fields["retired_at"] = _dt(snap.get("retired_at"))
    LicenseType.objects.update_or_create(
        type_code=snap["type_code"], defaults={**fields, "issuer": issuer}
    )


def _license_fields(snap: dict[str, Any]) -> dict[str, Any]:
    holder = snap["holder"]
    return {
        "identifier": snap["identifier"],
        "version": snap["version"],
        "number": snap["number"],
        "status": snap["status"],
        "pledged": snap["pledged"],
        "pledgee": snap["pledgee"],
        "pledge_until": _date(snap["pledge_until"]),
        "holder_name": holder["name"],
        "holder_code": holder["code"],
        "holder_code_type": holder["code_type"],
        "issue_date": _date(snap["issue_date"]),
        "valid_from": _date(snap["valid_from"]),
        "valid_to": _date(snap["valid_to"]),
        "area_code": snap["area_code"],
        "matter_code": snap["matter_code"],
        "surface": snap["surface"],
        "mode": snap["mode"],
        "case_completed_at": _dt(snap["case_completed_at"]),
        "sync_deadline": _date(snap["sync_deadline"]),
        "sync_deadline_provisional": snap["sync_deadline_provisional"],
        "content_digest": snap["content_digest"],
        "library_code": snap["library_code"],
        "last_event_seq": snap["last_event_seq"],
    }


def _find(
    snap: dict[str, Any], type_snapshot: dict[str, Any] | None = None
) -> tuple[License | None, LicenseType, Agency]:
    issuer = _agency(snap["issuer"])
    if type_snapshot is not None:
        apply_type({"type": type_snapshot}, sender="")
    license_type = LicenseType.objects.filter(type_code=snap["type_code"]).first()
    if license_type is None:
        raise PermanentError(
            "federation.type_unknown",
            "证照类型尚未汇聚到本库，无法接收该证照",
            {"type_code": snap["type_code"]},
        )
    lic = (
        License.objects.select_for_update()
        .filter(issuer=issuer, license_type=license_type, serial=snap["serial"])
        .first()
    )
    return lic, license_type, issuer


def _write_version(lic: License, snap: dict[str, Any]) -> None:
    holder = snap["holder"]
    LicenseVersion.objects.get_or_create(
        identifier=snap["identifier"],
        defaults={
            "license": lic,
            "version": snap["version"],
            "number": snap["number"],
            "holder_name": holder["name"],
            "holder_code": holder["code"],
            "holder_code_type": holder["code_type"],
            "issue_date": _date(snap["issue_date"]),
            "valid_from": _date(snap["valid_from"]),
            "valid_to": _date(snap["valid_to"]),
            "matter_code": snap["matter_code"],
            "surface": snap["surface"],
            "previous_identifier": snap["previous_identifier"],
            "content_digest": snap["content_digest"],
        },
    )


def _write_event(lic: License, snap: dict[str, Any]) -> None:
    data = dict(snap["data"])
    if snap.get("actor"):
        data["actor"] = snap["actor"]
    LicenseEvent.objects.get_or_create(
        license=lic,
        seq=snap["seq"],
        defaults={
            "action": snap["action"],
            "from_status": snap["from_status"],
            "to_status": snap["to_status"],
            "version": snap["version"],
            "identifier": snap["identifier"],
            "reason": snap["reason"],
            "data": data,
            "actor_agency_code": snap["actor_agency_code"],
        },
    )


def _identifier_in_use(lic: License | None, identifier: str) -> None:
    """A tampered row elsewhere may hold this identifier: free it so the repair can land."""
    other = License.objects.filter(identifier=identifier)
    if lic is not None:
        other = other.exclude(pk=lic.pk)
    if other.exists():
        raise PermanentError(
            "federation.identifier_conflict",
            "证照标识已被本库另一证照占用",
            {"identifier": identifier},
        )


@transaction.atomic
def apply_license_event(payload: dict[str, Any], *, sender: str) -> License:
    snap, event = payload["license"], payload["event"]
    lic, license_type, issuer = _find(snap, payload.get("type"))
    if lic is not None and event["seq"] <= lic.last_event_seq:
        # Already at or past this state: a duplicate or an older event. Keep what we hold,
        # but make sure the immutable rows exist.
        if payload.get("version"):
            _write_version(lic, payload["version"])
        _write_event(lic, event)
        return lic
    fields = _license_fields(snap)
    if lic is None:
        _identifier_in_use(None, snap["identifier"])
        lic = License.objects.create(
            license_type=license_type, issuer=issuer, serial=snap["serial"], **fields
        )
    else:
        _identifier_in_use(lic, snap["identifier"])
        for name, value in fields.items():
            setattr(lic, name, value)
        lic.save()
    if payload.get("version"):
        _write_version(lic, payload["version"])
    _write_event(lic, event)
    return lic


@transaction.atomic
def apply_license_repair(payload: dict[str, Any], *, sender: str) -> License:
    snap = payload["license"]
    lic, license_type, issuer = _find(snap, payload.get("type"))
    fields = _license_fields(snap)
    _identifier_in_use(lic, snap["identifier"])
    if lic is None:
        lic = License.objects.create(
            license_type=license_type, issuer=issuer, serial=snap["serial"], **fields
        )
    else:
        for name, value in fields.items():
            setattr(lic, name, value)
        lic.save()
    for version in payload.get("versions", []):
        _write_version(lic, version)
    for event in payload.get("events", []):
        _write_event(lic, event)
    if payload.get("event"):
        _write_event(lic, payload["event"])
    _record_files(payload, sender)
    return lic


def _record_files(payload: dict[str, Any], sender: str) -> None:
    if payload.get("files"):
        from shared.federation.files import record_files

        record_files(payload["files"], sender=sender)


def _apply_checkpoint(payload: dict[str, Any], *, sender: str) -> Any:
    from shared.federation.checkpoints import apply_checkpoint

    return apply_checkpoint(payload, sender=sender)


def _apply_file_ready(payload: dict[str, Any], *, sender: str) -> Any:
    from shared.federation.files import apply_file_ready

    return apply_file_ready(payload, sender=sender)


HANDLERS = {
    "access.checkpoint": _apply_checkpoint,
    "file.ready": _apply_file_ready,
    "catalog.type": apply_type,
    "license.event": apply_license_event,
    "license.repair": apply_license_repair,
}
