"""`audit_record`: the one way an administrative change is written down (art. 28)."""

from typing import Any

from django.conf import settings
from django.db import transaction

from shared.audit.context import current_request_id, current_via
from shared.audit.models import AuditEntry
from shared.audit.snapshots import scrubbed


def audit_record(
    *,
    actor: Any,
    action: str,
    target_type: str,
    target_id: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Write one audit row for a change the caller is making, in the caller's transaction: if
    the change rolls back, so does its row (a row outside a transaction is refused).

    `actor` is the user who made the change (None for a system action: a command, seeding);
    `action` a stable dotted code ("user.update"); `target_type`/`target_id` name the record;
    `before`/`after` are snapshots (None for a creation / a removal), built with
    `shared.audit.snapshots.model_snapshot`; any key named in `SECRET_FIELDS` is dropped.
    `detail` gains `via` ("command", "admin") when the change came that way, and `changed`
    (the keys whose values differ) when both snapshots are given.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit_record must run inside the transaction of the change")
    before, after = scrubbed(before), scrubbed(after)
    extra = scrubbed(dict(detail or {}))
    via = current_via()
    if via:
        extra.setdefault("via", via)
    if before is not None and after is not None:
        keys = sorted(set(before) | set(after))
        extra.setdefault("changed", [k for k in keys if before.get(k) != after.get(k)])
    agency = getattr(actor, "agency", None) if actor is not None else None
    return AuditEntry.objects.create(
        actor=actor,
        username=getattr(actor, "username", "") if actor is not None else "",
        agency_code=getattr(agency, "code", "") or "",
        action=action,
        target_type=target_type,
        target_id=str(target_id)[:128],
        before=before,
        after=after,
        detail=extra,
        library_code=settings.LIBRARY_CODE,
        request_id=current_request_id(),
    )
