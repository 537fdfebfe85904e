"""Inspections travel to the hub like licences do: each change is an outbox row
("inspection.update", key = the inspection's id) written in the change's transaction, on the
streams `FederationRole.record_streams` names (a city: up to the hub, for its own licences).

The payload is `{"schema", "inspection": snapshot}` with the whole state after the change and
its `revision`; the receiver keeps the highest revision. Materials travel as metadata only
(name, type, size, SM3 digest): their content stays where it was submitted.

The receiver trusts nothing about the sender (`shared.federation.ownership`): the sender must
be the library the snapshot names, and the library of the licence the receiver holds under the
snapshot's key; an inspection it already holds must be that sender's and that licence's. The
issuer and the type are the receiver's licence's, never the snapshot's.
"""

from datetime import datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

from shared.core.errors import PermanentError
from shared.federation import snapshots
from shared.federation.outbox import license_key, outbox_write
from shared.federation.ownership import NOT_OWNER, NotOwnerError
from shared.federation.roles import role
from shared.inspections.models import Inspection, InspectionMaterial
from shared.inspections.signals import inspection_changed
from shared.licenses.models import License

KIND = "inspection.update"
_enc = DjangoJSONEncoder()


def _iso(value: datetime | None) -> str | None:
    return None if value is None else str(_enc.default(value))


def inspection_snapshot(inspection: Inspection) -> dict[str, Any]:
    """The inspection's whole state, as it travels."""
    lic = inspection.license
    return {
        "id": str(inspection.pk),
        "library_code": inspection.library_code,
        "license_key": license_key(lic),
        "identifier": inspection.identifier,
        "type_code": inspection.license_type.type_code,
        "issuer_code": inspection.issuer.code,
        "year": inspection.year,
        "state": inspection.state,
        "note": inspection.note,
        "submitter_kind": inspection.submitter_kind,
        "submitted_at": _iso(inspection.submitted_at),
        "submitted_by": inspection.submitted_by.username if inspection.submitted_by else "",
        "decided_at": _iso(inspection.decided_at),
        "decided_by": inspection.decided_by.username if inspection.decided_by else "",
        "decision_reason": inspection.decision_reason,
        "late": inspection.late,
        "revision": inspection.revision,
        "materials": [
            {
                "index": m.index,
                "name": m.name,
                "content_type": m.content_type,
                "size": m.size,
                "digest": m.digest,
            }
            for m in inspection.materials.order_by("index")
        ],
    }


def inspection_publish(inspection: Inspection) -> None:
    """After every saved change: tell the receivers (inside the caller's transaction)."""
    inspection_changed.send(sender=Inspection, inspection=inspection)


def on_inspection_changed(sender: Any, *, inspection: Inspection, **_: Any) -> None:
    """The outbox row of the change, on the streams a governance record of its library goes."""
    streams = role().record_streams(inspection.library_code)
    if not streams:
        return
    payload = {"schema": snapshots.SCHEMA, "inspection": inspection_snapshot(inspection)}
    for stream in streams:
        outbox_write(stream=stream, kind=KIND, key=str(inspection.pk), payload=payload)


def _not_owner(*, sender: str, key: str, owner: str) -> NotOwnerError:
    return NotOwnerError(
        NOT_OWNER,
        "发送方无权修改其他证照库的年检记录",
        {"sender": sender, "record": "inspection", "key": key, "owner": owner},
    )


def _licence(key: str) -> License | None:
    type_code, issuer_code, serial = key.split(".", 2)
    return (
        License.objects.select_for_update(of=("self",))  # the licence row only
        .select_related("issuer", "license_type")
        .filter(license_type__type_code=type_code, issuer__code=issuer_code, serial=serial)
        .first()
    )


def _moment(value: Any) -> datetime | None:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None


def _fields(snap: dict[str, Any]) -> dict[str, Any]:
    """The columns a mirror writes, checked as far as the database would not."""
    state = str(snap["state"])
    if state not in Inspection.State.values:
        raise PermanentError("federation.payload_invalid", "年检状态无效", {"state": state[:20]})
    year = int(snap["year"])
    if not 2000 <= year <= 2199:
        raise PermanentError("federation.payload_invalid", "年检年度无效", {"year": year})
    submitted_at = _moment(snap["submitted_at"])
    if submitted_at is None:
        raise PermanentError("federation.payload_invalid", "缺少年检提交时间")
    kind = str(snap.get("submitter_kind", ""))
    return {
        "identifier": str(snap["identifier"])[:120],
        "year": year,
        "state": state,
        "note": str(snap.get("note", ""))[:500],
        "submitter_kind": kind if kind in Inspection.SubmitterKind.values else "holder",
        "submitted_at": submitted_at,
        "decided_at": _moment(snap.get("decided_at")),
        "decision_reason": str(snap.get("decision_reason", ""))[:500],
        "late": bool(snap.get("late", False)),
        "revision": int(snap["revision"]),
    }


def _materials(inspection: Inspection, items: list[dict[str, Any]]) -> None:
    """The materials' metadata, once (they do not change after submission)."""
    if inspection.materials.exists():
        return
    InspectionMaterial.objects.bulk_create(
        InspectionMaterial(
            inspection=inspection,
            index=int(m["index"]),
            name=str(m["name"])[:100],
            content_type=str(m["content_type"])[:50],
            size=int(m["size"]),
            digest=str(m["digest"])[:64],
            content=None,
        )
        for m in items[:20]
    )


@transaction.atomic
def apply_inspection(payload: dict[str, Any], *, sender: str) -> Inspection:
    """Apply a received `inspection.update` (a handler of `shared.federation.apply.HANDLERS`)."""
    snap = payload["inspection"]
    key = str(snap["license_key"])
    claimed = str(snap.get("library_code", ""))
    if claimed != sender:
        raise _not_owner(sender=sender, key=key, owner=claimed)
    lic = _licence(key)
    if lic is None:
        raise PermanentError(
            "federation.license_unknown", "年检所涉证照尚未汇聚到本库", {"key": key}
        )
    if lic.library_code != sender:
        raise _not_owner(sender=sender, key=key, owner=lic.library_code)
    held = Inspection.objects.select_for_update().filter(pk=snap["id"]).first()
    if held is not None and (held.library_code != sender or held.license_id != lic.pk):
        raise _not_owner(sender=sender, key=str(snap["id"]), owner=held.library_code)
    fields = _fields(snap)
    if held is not None and held.revision >= fields["revision"]:
        return held  # a duplicate or an older state: keep the newer one held here
    if held is None:
        held = Inspection.objects.create(
            id=snap["id"],
            library_code=sender,
            license=lic,
            issuer=lic.issuer,
            license_type=lic.license_type,
            **fields,
        )
    else:
        for name, value in fields.items():
            setattr(held, name, value)
        held.save()
    _materials(held, list(snap.get("materials") or []))
    inspection_publish(held)
    return held
