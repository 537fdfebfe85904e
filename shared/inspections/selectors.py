"""Reads of annual inspections: who sees which.

- a holder: the inspections of their own licences;
- staff of an issuing agency: its inbox, the inspections of its licences;
- the library administrator and the supervisor: every inspection the library holds (read
  only; at the hub that includes the cities' mirrors, for supervision);
- anyone else: none.
Materials are for the issuing agency's staff and the holder only: they are the holder's papers.
"""

import uuid
from typing import Any

from django.db.models import QuerySet

from shared.accounts.models import User
from shared.core.errors import ForbiddenError, NotFoundError
from shared.core.holder_codes import holder_digests_of
from shared.inspections.models import Inspection, InspectionMaterial
from shared.licenses import lookups


def _issuer_staff(user: User) -> bool:
    return user.agency is not None and user.agency.is_issuer and user.agency.active


def inspection_list(*, user: User) -> QuerySet[Inspection]:
    rows = Inspection.objects.select_related("license", "license_type", "issuer").order_by(
        "-submitted_at", "-id"
    )
    if user.is_holder:
        if not user.holder_code_digest:
            return rows.none()
        return rows.filter(
            **lookups.holder_terms(holder_digests_of(user), prefix="license__"),
            license__holder_code_type=user.holder_code_type,
        )
    if _issuer_staff(user):
        return rows.filter(issuer_id=user.agency_id)
    if user.is_library_admin or user.is_supervisor:
        return rows
    return rows.none()


def inspection_get(*, user: User, inspection_id: Any) -> Inspection:
    try:
        pk = uuid.UUID(str(inspection_id))
    except ValueError:
        pk = None  # not an id at all: nothing by that name
    found = inspection_list(user=user).filter(pk=pk).first() if pk else None
    if found is None:
        raise NotFoundError("inspection.not_found", "年检申请不存在")
    return found


def material_get(*, user: User, inspection_id: Any, index: int) -> InspectionMaterial:
    """A material with its content; 404 where the content is not held (a mirror)."""
    inspection = inspection_get(user=user, inspection_id=inspection_id)
    if not (user.is_holder or _issuer_staff(user)):
        raise ForbiddenError("inspection.materials_forbidden", "年检材料仅供签发单位和持证人查看")
    material = inspection.materials.filter(index=index).first()
    if material is None:
        raise NotFoundError("inspection.material_not_found", "年检材料不存在")
    if material.content is None:
        raise NotFoundError(
            "inspection.material_not_held",
            f"年检材料保存在证照库 {inspection.library_code}，本库仅有其摘要",
            {"library_code": inspection.library_code, "digest": material.digest},
        )
    return material
