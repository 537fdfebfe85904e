"""Bulk analysis across tiers, the hub's side (issue #13 item 4).

A bulk request made at the hub for licence types whose issuer belongs to a city is not decided
here: in the transaction that creates it, it goes down that city's stream (`bulk.request`),
and the request remembers the city (`decider_library`). A request for a city whose node is not
a registered peer is refused (400 `bulk.issuer_unreachable`): nobody could decide it. One
request has one issuer (`bulk.mixed_issuers`), so it never spans two cities.

The city's `bulk.decision` comes back up. Applying it trusts nothing about the sender: only the
city the request was sent to, which must also own the issuer (judged from the rows held here),
may decide; anything else is `federation.not_owner` and changes nothing. A decision for an
unknown request, one no longer pending (a duplicate delivery, an expired or decided request) or
one whose export would already have expired changes nothing and is logged
(`bulk.decision_ignored`). An approval queues the export here, from the hub's aggregate,
within the approved fields, the period, the row cap and the city's expiry.
"""

import logging
import uuid
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from shared.access.bulk import DECISION_KIND, REQUEST_KIND, WIRE_SCHEMA, BulkFederation
from shared.access.models import AccessRecord, BulkRequest
from shared.access.services import access_record
from shared.accounts.libraries import agency_library
from shared.core.effects import enqueue_on_commit
from shared.core.errors import PermanentError
from shared.federation.models import Peer
from shared.federation.outbox import outbox_write
from shared.federation.ownership import NOT_OWNER, NotOwnerError

logger = logging.getLogger(__name__)

__all__ = ["DECISION_KIND", "HubBulk", "apply_bulk_decision", "request_snapshot"]


def request_snapshot(request: BulkRequest) -> dict[str, Any]:
    """What the deciding city needs to show and decide the request (ids, not objects)."""
    agency, user = request.agency, request.requested_by
    return {
        "id": str(request.pk),
        "type_codes": sorted(t.type_code for t in request.license_types.all()),
        "issuer_code": request.issuer.code,
        "fields": list(request.fields),
        "period_from": request.period_from.isoformat(),
        "period_to": request.period_to.isoformat(),
        "matter_code": request.matter_code,
        "purpose": request.purpose,
        "row_cap": request.row_cap,
        "format": request.format,
        "created_at": request.created_at.isoformat(),
        "requester": {
            "agency_code": agency.code if agency is not None else "",
            "agency_name": agency.name if agency is not None else "",
            "username": user.username if user is not None else "",
            "display_name": (user.display_name or "") if user is not None else "",
        },
    }


class HubBulk(BulkFederation):
    def created(self, request: BulkRequest) -> None:
        issuer = request.issuer
        city = agency_library(level=issuer.level, area_code=issuer.area_code)
        if city == settings.LIBRARY_CODE:
            return  # a provincial issuer decides here
        if not Peer.objects.filter(code=city, active=True).exists():
            raise PermanentError(
                "bulk.issuer_unreachable",
                "签发单位所在的市级证照库尚未接入，无法转交审批",
                {"library": city},
            )
        request.decider_library = city
        request.save(update_fields=["decider_library"])
        outbox_write(
            stream=city,
            kind=REQUEST_KIND,
            key=str(request.pk),
            payload={"schema": WIRE_SCHEMA, "request": request_snapshot(request)},
        )


def _ignored(reason: str, *, key: str, sender: str) -> None:
    logger.warning("bulk.decision_ignored reason=%s request=%s sender=%s", reason, key, sender)


@transaction.atomic
def _check_decider(request: BulkRequest, *, sender: str, key: str) -> None:
    """Only the city the request went to, and which owns its issuer, decides it."""
    owner = agency_library(level=request.issuer.level, area_code=request.issuer.area_code)
    if request.decider_library != sender or owner != sender:
        logger.warning(
            "%s sender=%s record=bulk_request key=%s owner=%s", NOT_OWNER, sender, key, owner
        )
        raise NotOwnerError(
            NOT_OWNER,
            "发送方无权审批其他签发单位的批量分析申请",
            {"sender": sender, "record": "bulk_request", "key": key, "owner": owner},
        )


def _approval_apply(
    request: BulkRequest, decision: dict[str, Any], *, sender: str, key: str
) -> bool:
    """The approved fields and expiry onto `request`; False when the approval came too late."""
    fields = [str(f) for f in decision["approved_fields"]]
    extra = sorted(set(fields) - set(request.fields))
    if not fields or extra:
        raise PermanentError("bulk.field_not_requested", "只能批准申请中的字段", {"fields": extra})
    expires_at = parse_datetime(str(decision["expires_at"]))
    if expires_at is None or expires_at.tzinfo is None:
        raise PermanentError("bulk.payload_invalid", "导出有效期格式错误")
    if expires_at <= timezone.now():
        _ignored("expired", key=key, sender=sender)
        return False
    request.approved_fields, request.expires_at = list(dict.fromkeys(fields)), expires_at
    request.state = BulkRequest.State.APPROVED
    return True


def apply_bulk_decision(payload: dict[str, Any], *, sender: str) -> BulkRequest | None:
    """`bulk.decision` from the city that decides the request."""
    decision = payload["decision"]
    key = str(decision["id"])[:64]
    request = (
        BulkRequest.objects.select_for_update(of=("self",))
        .select_related("issuer")
        .filter(pk=uuid.UUID(key))  # ValueError: dead-lettered as a payload error
        .first()
    )
    if request is None:
        _ignored("unknown", key=key, sender=sender)
        return None
    _check_decider(request, sender=sender, key=key)
    if request.state != BulkRequest.State.PENDING:
        _ignored(f"state:{request.state}", key=key, sender=sender)
        return request
    approve = decision["approve"] is True
    reason = str(decision.get("reason") or "")[:500]
    if approve:
        if not _approval_apply(request, decision, sender=sender, key=key):
            return request
    else:
        request.state = BulkRequest.State.REFUSED
    decided_at = parse_datetime(str(decision.get("decided_at") or ""))
    request.decided_at = decided_at if decided_at and decided_at.tzinfo else timezone.now()
    request.decision_reason = reason
    request.decided_by_name = f"{str(decision.get('decided_by') or '')[:150]}（{sender}）"
    request.save()
    access_record(
        user=None,
        operation=AccessRecord.Operation.BULK_DECISION,
        matter_code=request.matter_code,
        use_cause=request.purpose,
        licenses=[],
        outcome=AccessRecord.Outcome.ALLOWED if approve else AccessRecord.Outcome.REFUSED,
        reason_code="" if approve else "bulk.refused",
        detail={
            "bulk_request": str(request.pk),
            "approved": approve,
            "reason": reason,
            "decided_at_library": sender,
        },
    )
    if approve:
        from shared.access.tasks import bulk_export

        enqueue_on_commit(bulk_export, str(request.pk))
    return request
