"""Bulk analysis across tiers, the city's side (issue #13 item 4).

`bulk.request` from the hub: a request made at the hub for licence types of this city's issuer.
It is stored under the hub's id with `origin_library` = the hub and the applicant in
`requester`, so it appears in the issuer's 批量分析审批 (console and API) like a local request
and is decided with the same service. Applying it trusts nothing about the sender: only the hub
(`FEDERATION_HUB_CODE`) sends requests, and only for types held here whose issuer belongs to
this city (judged from the rows held here); anything else is `federation.not_owner` and changes
nothing. A duplicate delivery (the id is held) changes nothing.

The decision (approve, possibly fewer fields and an expiry, or refuse with a reason) goes back up
as `bulk.decision` in the transaction of the decision. The export is not run here: the hub
exports from its aggregate (`shared.access.bulk.bulk_export_run` leaves such requests alone).

A request made at this city for a type whose issuer is not this city's (a provincial type that
came down with a licence) is refused with 400 `bulk.issuer_elsewhere`: apply where it is issued.
"""

import uuid
from datetime import date
from typing import Any

from django.conf import settings
from django.db import transaction

from shared.access.bulk import DECISION_KIND, WIRE_SCHEMA, BulkFederation
from shared.access.bulk_fields import allowed_fields
from shared.access.models import BulkRequest
from shared.accounts.libraries import agency_is_local
from shared.catalog.models import LicenseType
from shared.core.errors import PermanentError
from shared.federation.outbox import outbox_write
from shared.federation.ownership import NOT_OWNER, NotOwnerError


def _not_owner(*, sender: str, key: str, owner: str, message: str) -> NotOwnerError:
    return NotOwnerError(
        NOT_OWNER, message, {"sender": sender, "record": "bulk_request", "key": key, "owner": owner}
    )


def _text(value: Any, limit: int) -> str:
    return str(value or "").strip()[:limit]


@transaction.atomic
def _local_types(snap: dict[str, Any], *, sender: str, key: str) -> list[LicenseType]:
    """The request's types: all held here, all of one issuer of this city."""
    codes = sorted({str(code) for code in snap["type_codes"]})
    types = list(LicenseType.objects.select_related("issuer").filter(type_code__in=codes))
    if not codes or len(types) != len(codes):
        raise PermanentError(
            "bulk.type_unknown", "本库没有申请的证照类型", {"type_codes": codes[:20]}
        )
    for license_type in types:
        if not agency_is_local(license_type.issuer):
            raise _not_owner(
                sender=sender,
                key=key,
                owner=license_type.issuer.code,
                message="只能转交本市签发单位的证照类型的申请",
            )
    if len({t.issuer_id for t in types}) != 1:
        raise PermanentError(
            "bulk.mixed_issuers", "一次申请只能包含同一签发单位的证照类型，由其审批"
        )
    return types


def apply_bulk_request(payload: dict[str, Any], *, sender: str) -> BulkRequest:
    """`bulk.request` from the hub, about this city's licence types."""
    snap = payload["request"]
    key = _text(snap.get("id"), 64)
    hub, here = settings.FEDERATION_HUB_CODE, settings.LIBRARY_CODE
    if sender != hub:
        raise _not_owner(
            sender=sender, key=key, owner=hub, message="只有省级库可以转交批量分析申请"
        )
    request_id = uuid.UUID(key)  # ValueError: dead-lettered as a payload error
    held = BulkRequest.objects.filter(pk=request_id).first()
    if held is not None:
        if held.origin_library != sender:
            raise _not_owner(
                sender=sender, key=key, owner=here, message="该批量分析申请不是发送方转交的"
            )
        return held  # a duplicate delivery
    types = _local_types(snap, sender=sender, key=key)
    fields = list(dict.fromkeys(str(f) for f in snap["fields"]))
    unknown = sorted(set(fields) - allowed_fields(types))
    if not fields or unknown:
        raise PermanentError("bulk.field_unknown", "申请的字段不存在", {"fields": unknown[:20]})
    row_cap = int(snap["row_cap"])
    fmt = str(snap.get("format") or BulkRequest.Format.CSV)
    if row_cap < 1 or fmt not in BulkRequest.Format.values:
        raise PermanentError("bulk.payload_invalid", "批量分析申请内容格式错误")
    requester = snap.get("requester") or {}
    request = BulkRequest.objects.create(
        id=request_id,
        agency=None,
        requested_by=None,
        issuer=types[0].issuer,
        fields=fields,
        period_from=date.fromisoformat(str(snap["period_from"])),
        period_to=date.fromisoformat(str(snap["period_to"])),
        matter_code=_text(snap["matter_code"], 64),
        purpose=_text(snap["purpose"], 200),
        row_cap=row_cap,
        format=fmt,
        origin_library=sender,
        requester={
            k: _text(requester.get(k), 200)
            for k in ("agency_code", "agency_name", "username", "display_name")
        },
    )
    request.license_types.set(types)
    return request


class NodeBulk(BulkFederation):
    def created(self, request: BulkRequest) -> None:
        if not agency_is_local(request.issuer):
            raise PermanentError(
                "bulk.issuer_elsewhere",
                "所申请证照类型的签发单位不在本库，请到其所在证照库申请",
                {"issuer_code": request.issuer.code},
            )

    def decided(self, request: BulkRequest) -> None:
        if not request.origin_library:
            return
        actor = request.decided_by
        name = (actor.display_name or actor.username) if actor is not None else ""
        outbox_write(
            stream=request.origin_library,
            kind=DECISION_KIND,
            key=str(request.pk),
            payload={
                "schema": WIRE_SCHEMA,
                "decision": {
                    "id": str(request.pk),
                    "approve": request.state == BulkRequest.State.APPROVED,
                    "approved_fields": list(request.approved_fields),
                    "expires_at": request.expires_at.isoformat() if request.expires_at else None,
                    "reason": request.decision_reason,
                    "decided_at": request.decided_at.isoformat() if request.decided_at else None,
                    "decided_by": name,
                    "issuer_code": request.issuer.code,
                },
            },
        )
