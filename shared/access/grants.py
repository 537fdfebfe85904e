"""Writes for grants: a library administrator allows a consumer agency to use licences of a
type for a matter (arts. 21–22), or revokes it; both are recorded in the access log."""

from datetime import date
from typing import Any

from django.db import transaction
from django.utils import timezone

from shared.access.models import AccessRecord, Grant
from shared.access.selectors import grants_active
from shared.access.services import access_record
from shared.accounts.models import Agency, User
from shared.audit.services import audit_record
from shared.audit.snapshots import model_snapshot
from shared.catalog.models import LicenseType
from shared.core.errors import ConflictError, ForbiddenError, NotFoundError, PermanentError
from shared.core.tier import is_hub

Operation = AccessRecord.Operation
Outcome = AccessRecord.Outcome


def grant_snapshot(grant: Grant) -> dict[str, Any]:
    return model_snapshot(grant) | {
        "agency_code": grant.agency.code,
        "type_code": grant.license_type.type_code,
    }


def _require_library_admin(actor: User) -> None:
    if not actor.is_library_admin:
        raise ForbiddenError(
            "permission.library_admin_required",
            "仅库管理员（节点管理员/省级运营人员）可管理用证授权",
        )


@transaction.atomic
def grant_create(
    *,
    actor: User,
    agency_code: str,
    type_code: str,
    matter_code: str,
    valid_from: date | None = None,
    valid_to: date | None = None,
) -> Grant:
    """Allow a consumer agency to use licences of a type for a matter. At a city node the node
    administrator grants city use; at the hub the operator grants province-wide use."""
    _require_library_admin(actor)
    agency = Agency.objects.filter(code=agency_code).first()
    if agency is None:
        raise NotFoundError("agency.not_found", "单位不存在", {"agency_code": agency_code})
    if not agency.is_consumer or not agency.active:
        raise PermanentError(
            "grant.not_consumer", "只能向启用的证照应用单位授权", {"agency_code": agency_code}
        )
    license_type = LicenseType.objects.filter(type_code=type_code).first()
    if license_type is None:
        raise NotFoundError("catalog.type_not_found", "证照类型不存在", {"type_code": type_code})
    matter_code = (matter_code or "").strip()
    if not matter_code:
        raise PermanentError("grant.matter_required", "必须指定事项编码")
    valid_from = valid_from or timezone.localdate()
    if valid_to is not None and valid_to < valid_from:
        raise PermanentError("grant.validity", "授权截止日期不能早于生效日期")
    if grants_active(agency=agency, matter_code=matter_code, license_type=license_type).exists():
        raise ConflictError(
            "grant.exists",
            "该单位已有此证照类型和事项的有效授权",
            {"agency_code": agency_code, "type_code": type_code, "matter_code": matter_code},
        )
    grant = Grant.objects.create(
        agency=agency,
        license_type=license_type,
        matter_code=matter_code,
        tier=Grant.Tier.PROVINCE if is_hub() else Grant.Tier.CITY,
        valid_from=valid_from,
        valid_to=valid_to,
        granted_by=actor,
    )
    access_record(
        user=actor,
        operation=Operation.GRANT,
        matter_code=matter_code,
        use_cause="授予用证权限",
        licenses=[],
        outcome=Outcome.ALLOWED,
        detail={"grant": grant.pk, "agency_code": agency.code, "type_code": type_code},
    )
    audit_record(
        actor=actor,
        action="grant.create",
        target_type="grant",
        target_id=str(grant.pk),
        before=None,
        after=grant_snapshot(grant),
    )
    return grant


@transaction.atomic
def grant_revoke(*, actor: User, grant_id: int) -> Grant:
    _require_library_admin(actor)
    grant = Grant.objects.select_for_update().filter(pk=grant_id).first()
    if grant is None:
        raise NotFoundError("grant.not_found", "授权不存在")
    if grant.revoked_at is None:
        before = grant_snapshot(grant)
        grant.revoked_at, grant.revoked_by = timezone.now(), actor
        grant.save(update_fields=["revoked_at", "revoked_by"])
        access_record(
            user=actor,
            operation=Operation.GRANT,
            matter_code=grant.matter_code,
            use_cause="撤销用证权限",
            licenses=[],
            outcome=Outcome.ALLOWED,
            detail={"grant": grant.pk, "revoked": True},
        )
        audit_record(
            actor=actor,
            action="grant.revoke",
            target_type="grant",
            target_id=str(grant.pk),
            before=before,
            after=grant_snapshot(grant),
        )
    return grant
