"""Applying one received event to this library's tables (the receiver side of the outbox).

Rules (DESIGN §6): an older state never overwrites a newer one — a licence is updated only by
an event with a higher per-licence sequence than the one stored; versions and events are
immutable and inserted once. A repair carries the sender's whole licence and is authoritative
for licences the sender owns: it overwrites whatever the receiver holds (even a row someone
altered by hand) and restores missing versions and events. It is authoritative for the history
too: an event or version the receiver holds that the repair does not carry (or carries with
other content) was never the owner's — a forgery from before ownership was checked, or a hand
edit — and is moved out of the licence into `QuarantinedRecord` (so it can be inspected) rather
than left to shadow the owner's real event of the same number.

Ownership (`shared.federation.ownership`): every handler first checks that the sender owns what
the event would change — the licence, its issuer agency, the type — and refuses with
`federation.not_owner` before writing anything.
"""

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import transaction

from shared.accounts.models import Agency
from shared.catalog.models import LicenseType
from shared.core.errors import PermanentError
from shared.federation import ownership
from shared.federation.models import QuarantinedRecord
from shared.federation.snapshots import TYPE_FIELDS, TYPE_FIELDS_ADDED
from shared.licenses import codec
from shared.licenses.models import License, LicenseEvent, LicenseVersion
from shared.licenses.selectors import licences_by_natural_key

logger = logging.getLogger(__name__)


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _agency(snapshot: dict[str, Any], *, sender: str) -> Agency:
    """The agency a snapshot names, created or renamed — only when the sender owns it."""
    agency = Agency.objects.filter(code=snapshot["code"]).first()
    ownership.check_agency(snapshot, agency, sender=sender)
    created = False
    if agency is None:
        agency, created = Agency.objects.get_or_create(
            code=snapshot["code"],
            defaults={
                k: snapshot[k]
                for k in ("name", "kind", "level", "area_code", "is_issuer", "is_consumer")
            },
        )
        if not created:  # a concurrent writer created it: judge the stored row
            ownership.check_agency(snapshot, agency, sender=sender)
    if not created and agency.name != snapshot["name"]:
        agency.name = snapshot["name"]
        agency.save(update_fields=["name", "updated_at"])
    return agency


@transaction.atomic
def apply_type(payload: dict[str, Any], *, sender: str) -> None:
    snap = payload["type"]
    existing = (
        LicenseType.objects.select_related("issuer").filter(type_code=snap["type_code"]).first()
    )
    if existing is not None:
        ownership.check_type(
            snap["type_code"],
            ownership.agency_owner({}, existing.issuer),
            sender=sender,
        )
    issuer = _agency(snap["issuer"], sender=sender)
    if existing is not None and existing.issuer_id != issuer.pk:
        raise PermanentError(
            "federation.type_conflict",
            "证照类型代码已由其他签发单位登记",
            {"type_code": snap["type_code"]},
        )
    fields = {
        k: snap.get(k, TYPE_FIELDS_ADDED[k]) if k in TYPE_FIELDS_ADDED else snap[k]
        for k in TYPE_FIELDS
        if k != "type_code"
    }
    fields["published_at"] = _dt(snap.get("published_at"))
    fields["retired_at"] = _dt(snap.get("retired_at"))
    LicenseType.objects.update_or_create(
        type_code=snap["type_code"], defaults={**fields, "issuer": issuer}
    )


def _find(
    snap: dict[str, Any], type_snapshot: dict[str, Any] | None, *, sender: str
) -> tuple[License | None, LicenseType, Agency]:
    ownership.check_licence(snap, None, sender=sender)
    issuer = _agency(snap["issuer"], sender=sender)
    if type_snapshot is not None:
        apply_type({"type": type_snapshot}, sender=sender)
    license_type = (
        LicenseType.objects.select_related("issuer").filter(type_code=snap["type_code"]).first()
    )
    if license_type is None:
        raise PermanentError(
            "federation.type_unknown",
            "证照类型尚未汇聚到本库，无法接收该证照",
            {"type_code": snap["type_code"]},
        )
    # A licence is issued under a type of its own issuer (licenses.services): of its library.
    ownership.check_type(
        license_type.type_code, ownership.agency_owner({}, license_type.issuer), sender=sender
    )
    # by the natural key through the key table at the hub: the read names its city's partitions
    lic = (
        licences_by_natural_key([(issuer.pk, license_type.pk, snap["serial"])])
        .select_for_update()
        .first()
    )
    if lic is not None:
        ownership.check_licence(snap, lic.library_code, sender=sender)
    return lic, license_type, issuer


def _write_version(lic: License, snap: dict[str, Any]) -> None:
    fields = codec.version_fields(snap)
    LicenseVersion.objects.get_or_create(
        identifier=fields.pop("identifier"), defaults={"license": lic, **fields}
    )


def _write_event(lic: License, snap: dict[str, Any]) -> None:
    fields = codec.event_fields(snap)
    LicenseEvent.objects.get_or_create(license=lic, seq=fields.pop("seq"), defaults=fields)


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


# What must agree between a held event or version and the owner's copy of it.
EVENT_FIELDS = ("action", "from_status", "to_status", "version", "identifier", "reason")
VERSION_FIELDS = ("version", "number", "holder_name", "content_digest", "previous_identifier")


def carried_history(
    payload: dict[str, Any],
) -> tuple[dict[int, dict[str, Any]], dict[str, dict[str, Any]]] | None:
    """The events (by seq) and versions (by identifier) a whole-licence repair carries, or
    None when the payload is not a whole history."""
    if not isinstance(payload.get("events"), list) or not isinstance(payload.get("versions"), list):
        return None
    events = {e["seq"]: e for e in payload["events"]}
    if payload.get("event"):
        events[payload["event"]["seq"]] = payload["event"]
    return events, {v["identifier"]: v for v in payload["versions"]}


def _event_differs(held: LicenseEvent, snap: dict[str, Any] | None) -> bool:
    return snap is None or any(getattr(held, f) != snap.get(f) for f in EVENT_FIELDS)


def _version_differs(held: LicenseVersion, snap: dict[str, Any] | None) -> bool:
    if snap is None:
        return True
    flat = {**snap, "holder_name": snap["holder"]["name"]}
    return any(getattr(held, f) != flat.get(f) for f in VERSION_FIELDS)


def history_enforce(lic: License, payload: dict[str, Any], *, sender: str) -> int:
    """Quarantine the held events and versions of `lic` that the owner's whole-licence repair
    does not carry as they are here; the repair then writes its own. Returns how many."""
    carried = carried_history(payload)
    if carried is None:
        return 0
    events, versions = carried
    bad_events = [e for e in lic.events.all() if _event_differs(e, events.get(e.seq))]
    bad_versions = [
        v for v in lic.versions.all() if _version_differs(v, versions.get(v.identifier))
    ]
    quarantine(lic, bad_events, bad_versions, sender=sender)
    return len(bad_events) + len(bad_versions)


def quarantine(
    lic: License,
    events: list[LicenseEvent],
    versions: list[LicenseVersion],
    *,
    sender: str,
) -> None:
    """Move events and versions out of a licence's history into `QuarantinedRecord`."""
    if not events and not versions:
        return
    from shared.federation.snapshots import event_snapshot, version_snapshot

    rows = [
        QuarantinedRecord(
            kind=QuarantinedRecord.Kind.EVENT,
            license_id=lic.pk,
            library_code=lic.library_code,
            identifier=e.identifier,
            number=e.seq,
            sender=sender,
            reason="federation.history_not_owner",
            data=event_snapshot(e),
        )
        for e in events
    ] + [
        QuarantinedRecord(
            kind=QuarantinedRecord.Kind.VERSION,
            license_id=lic.pk,
            library_code=lic.library_code,
            identifier=v.identifier,
            number=v.version,
            sender=sender,
            reason="federation.history_not_owner",
            # the holder code stays out of the plain JSON (it is stored encrypted)
            data=version_snapshot(v)
            | {"holder": {"name": v.holder_name, "code_type": v.holder_code_type}},
        )
        for v in versions
    ]
    QuarantinedRecord.objects.bulk_create(rows)
    LicenseEvent.objects.filter(pk__in=[e.pk for e in events]).delete()
    LicenseVersion.objects.filter(pk__in=[v.pk for v in versions]).delete()
    logger.warning(
        "federation.history_quarantined license=%s sender=%s events=%s versions=%s",
        lic.pk,
        sender,
        [e.seq for e in events],
        [v.identifier for v in versions],
    )


@transaction.atomic
def apply_license_event(payload: dict[str, Any], *, sender: str) -> License:
    snap, event = payload["license"], payload["event"]
    lic, license_type, issuer = _find(snap, payload.get("type"), sender=sender)
    if lic is not None and event["seq"] <= lic.last_event_seq:
        # Already at or past this state: a duplicate or an older event. Keep what we hold,
        # but make sure the immutable rows exist.
        if payload.get("version"):
            _write_version(lic, payload["version"])
        _write_event(lic, event)
        return lic
    fields = codec.license_fields(snap)
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
    lic, license_type, issuer = _find(snap, payload.get("type"), sender=sender)
    fields = codec.license_fields(snap)
    _identifier_in_use(lic, snap["identifier"])
    if lic is not None:
        history_enforce(lic, payload, sender=sender)
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


# Repairs from a city carry its files by digest; the hub registers who records them.
_files_recorder: Callable[..., Any] | None = None


def files_recorder_register(recorder: Callable[..., Any]) -> None:
    global _files_recorder
    _files_recorder = recorder


def _record_files(payload: dict[str, Any], sender: str) -> None:
    if payload.get("files") and _files_recorder is not None:
        _files_recorder(payload["files"], sender=sender)


# The event kinds both tiers apply; a tier adds its own in its AppConfig.ready
# (the hub: "access.checkpoint", "file.ready").
HANDLERS: dict[str, Callable[..., Any]] = {
    "catalog.type": apply_type,
    "license.event": apply_license_event,
    "license.repair": apply_license_repair,
}
