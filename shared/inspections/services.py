"""Writes for the annual inspection (网络年检, art. 26): submit, approve, refuse.

Each is one transaction. The licence row is locked first (`license_get_for_update`), then the
inspection: the same order as the beat's suspension (`shared.inspections.suspension`), so a
decision and a suspension of the same licence serialise and never deadlock. A refusal (400,
403, 404, 409) changes nothing.

Rules of submission (documented in docs/inspections.md):
- the holder of the licence (signed in with a one-time code) or staff of its issuing agency on
  the holder's behalf; the licence is of this library, valid or suspended, of a type that
  requires annual inspection and has a window;
- the year's window has opened (a late submission after it closed is accepted); the year is
  not before the licence entered this library, nor already inspected;
- one inspection per licence and year that is not refused; at least one material.
"""

import uuid
from datetime import date
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from shared.accounts.models import User
from shared.catalog.models import LicenseType
from shared.core.attachments import Attachment, check_attachments
from shared.core.errors import ConflictError, ForbiddenError, NotFoundError, PermanentError
from shared.core.holder_codes import holder_codes_equal
from shared.domain.canonical import sm3_hex
from shared.domain.errors import DomainError
from shared.domain.status import STATUS_LABELS, Action, Status
from shared.domain.text import check_text, is_blank
from shared.domain.windows import Window, day_label, parse_window, window_label
from shared.inspections.models import Inspection, InspectionMaterial
from shared.inspections.suspension import RESUME_REASON, suspended_for_inspection
from shared.inspections.sync import inspection_publish
from shared.licenses.models import License
from shared.licenses.services import license_act, license_get_for_update

YEAR_MIN, YEAR_MAX = 2000, 2199


def _today() -> date:
    return timezone.localdate()


def type_window(license_type: LicenseType) -> Window:
    """The type's inspection window; 409 when the type has none (no inspection to do)."""
    detail = {"type_code": license_type.type_code}
    if not license_type.annual_inspection:
        raise ConflictError("inspection.not_required", "该类证照无需年检", detail)
    start, end = license_type.inspection_window_start, license_type.inspection_window_end
    if not start or not end:
        raise ConflictError(
            "inspection.no_window", "该证照类型尚未设置年检时段，暂不能办理年检", detail
        )
    try:
        return parse_window(start, end)
    except DomainError as exc:
        raise ConflictError("inspection.no_window", exc.message, detail) from exc


def _is_issuer_staff(actor: User) -> bool:
    agency = actor.agency
    return agency is not None and agency.is_issuer and agency.active


def _submitter_kind(actor: User) -> str:
    if actor.is_holder:
        return Inspection.SubmitterKind.HOLDER
    if _is_issuer_staff(actor):
        return Inspection.SubmitterKind.ISSUER
    raise ForbiddenError("inspection.forbidden", "只有持证人或证照签发单位的人员可以提交年检申请")


def _licence_for(actor: User, identifier: str, kind: str) -> License:
    """The licence, locked, if `actor` may submit for it; 404 as if it did not exist otherwise
    (nobody learns of another holder's or agency's licence)."""
    lic = license_get_for_update(identifier=identifier)
    if kind == Inspection.SubmitterKind.HOLDER:
        mine = (
            bool(actor.holder_code_digest)
            and holder_codes_equal(lic, actor)
            and lic.holder_code_type == actor.holder_code_type
            and lic.status not in (Status.pending, Status.returned)
        )
    else:
        mine = lic.issuer_id == actor.agency_id
    if not mine:
        raise NotFoundError("license.not_found", "证照不存在")
    if lic.library_code != settings.LIBRARY_CODE:
        raise ConflictError(
            "inspection.not_local",
            f"该证照由证照库 {lic.library_code} 管理，请到签发地的证照库办理年检",
            {"library_code": lic.library_code},
        )
    return lic


def _check_year(lic: License, window: Window, year: int) -> None:
    if not YEAR_MIN <= year <= YEAR_MAX:
        raise PermanentError("inspection.year", "年检年度无效", {"field": "year"})
    issued = timezone.localtime(lic.created_at).year
    if year < issued:
        raise PermanentError(
            "inspection.year",
            f"年检年度不能早于证照签发年度（{issued} 年）",
            {"field": "year", "issued_year": issued},
        )
    opens = window.opens(year)
    if _today() < opens:
        raise ConflictError(
            "inspection.window_not_open",
            f"{year} 年度年检时段为{window_label(window, year)}，尚未开始，请于{day_label(opens)}起提交",
            {"year": year, "opens": opens.isoformat(), "closes": window.closes(year).isoformat()},
        )


def _check_licence(lic: License, year: int) -> None:
    if lic.status not in (Status.valid, Status.suspended):
        label = STATUS_LABELS[Status(lic.status)]
        raise ConflictError(
            "inspection.license_state",
            f"证照当前状态为“{label}”，不能申请年检",
            {"status": lic.status},
        )
    if lic.inspected_year is not None and lic.inspected_year >= year:
        raise ConflictError(
            "inspection.already_inspected",
            f"该证照已通过 {lic.inspected_year} 年度年检",
            {"inspected_year": lic.inspected_year},
        )
    held = (
        Inspection.objects.filter(license=lic, year=year)
        .exclude(state=Inspection.State.REFUSED)
        .first()
    )
    if held is not None:
        raise ConflictError(
            "inspection.exists",
            f"该证照 {year} 年度的年检申请已提交（{held.get_state_display()}），请勿重复提交",
            {"id": str(held.pk), "state": held.state},
        )


def _clean_note(note: str) -> str:
    note = (note or "").strip()
    if len(note) > 500:
        raise PermanentError("inspection.note", "说明不能超过 500 字", {"field": "note"})
    check_text(note, field="note", label="说明", multiline=True)
    return note


def _materials(files: list[tuple[str, bytes]]) -> list[Attachment]:
    if not files:
        raise PermanentError(
            "inspection.materials_required",
            "年检申请必须上传至少一份材料（PDF、JPEG 或 PNG）",
            {"field": "attachments"},
        )
    # A file name is shown, never used as a path: printable characters only.
    named = [("".join(c for c in name if c.isprintable()).strip(), data) for name, data in files]
    return check_attachments(named)


@transaction.atomic
def inspection_submit(
    *,
    actor: User,
    identifier: str,
    year: int | None = None,
    note: str = "",
    files: list[tuple[str, bytes]],
) -> Inspection:
    """Submit the annual inspection of `year` (default: this year) with its materials."""
    kind = _submitter_kind(actor)
    note = _clean_note(note)
    materials = _materials(files)
    lic = _licence_for(actor, identifier, kind)
    window = type_window(lic.license_type)
    year = _today().year if year is None else year
    _check_year(lic, window, year)
    _check_licence(lic, year)
    inspection = Inspection.objects.create(
        library_code=lic.library_code,
        license=lic,
        issuer=lic.issuer,
        license_type=lic.license_type,
        identifier=lic.identifier,
        year=year,
        note=note,
        submitter_kind=kind,
        submitted_at=timezone.now(),
        submitted_by=actor,
    )
    InspectionMaterial.objects.bulk_create(
        InspectionMaterial(
            inspection=inspection,
            index=n,
            name=m.name,
            content_type=m.content_type,
            size=len(m.content),
            digest=sm3_hex(m.content),
            content=m.content,
        )
        for n, m in enumerate(materials, start=1)
    )
    inspection_publish(inspection)
    return inspection


def _for_decision(actor: User, inspection_id: Any) -> tuple[Inspection, License]:
    """The inspection and its licence, both locked (licence first), if `actor` decides it."""
    if not _is_issuer_staff(actor):
        raise ForbiddenError("inspection.not_issuer", "只有证照签发单位的人员可以审核年检申请")
    try:
        pk = uuid.UUID(str(inspection_id))
    except ValueError:
        raise NotFoundError("inspection.not_found", "年检申请不存在") from None
    found = Inspection.objects.filter(pk=pk, issuer_id=actor.agency_id).first()
    if found is None:
        raise NotFoundError("inspection.not_found", "年检申请不存在")
    if found.library_code != settings.LIBRARY_CODE:
        raise ConflictError(
            "inspection.not_local",
            f"该年检申请由证照库 {found.library_code} 办理，本库仅保存副本",
            {"library_code": found.library_code},
        )
    lic = license_get_for_update(identifier=found.license.identifier)
    inspection = Inspection.objects.select_for_update().get(pk=found.pk)
    if inspection.state != Inspection.State.SUBMITTED:
        raise ConflictError(
            "inspection.illegal_state",
            f"年检申请当前为“{inspection.get_state_display()}”，不能再审核",
            {"state": inspection.state},
        )
    return inspection, lic


def _decided(inspection: Inspection, actor: User, state: str) -> None:
    inspection.state = state
    inspection.decided_at = timezone.now()
    inspection.decided_by = actor
    inspection.revision += 1
    inspection.save()
    inspection_publish(inspection)


@transaction.atomic
def inspection_approve(*, actor: User, inspection_id: Any, reason: str = "") -> Inspection:
    """Approve: the licence records the year (`inspect` event); a licence suspended because
    this year's (or an earlier year's) inspection was missed resumes (`resume` event)."""
    inspection, lic = _for_decision(actor, inspection_id)
    reason = (reason or "").strip()
    check_text(reason, field="reason", label="审核意见", multiline=True)
    window = type_window(inspection.license_type)
    lic, _ = license_act(
        actor=actor, identifier=lic.identifier, action=Action.inspect, year=inspection.year
    )
    if lic.status == Status.suspended and suspended_for_inspection(lic, up_to=inspection.year):
        license_act(
            actor=actor, identifier=lic.identifier, action=Action.resume, reason=RESUME_REASON
        )
    inspection.decision_reason = reason[:500]
    inspection.late = _today() > window.closes(inspection.year)
    _decided(inspection, actor, Inspection.State.APPROVED)
    return inspection


@transaction.atomic
def inspection_refuse(*, actor: User, inspection_id: Any, reason: str) -> Inspection:
    """Refuse with a reason; the holder may submit the year again."""
    reason = (reason or "").strip()
    if is_blank(reason):
        raise PermanentError(
            "inspection.reason_required", "不予通过必须填写原因", {"field": "reason"}
        )
    check_text(reason, field="reason", label="原因", multiline=True)
    inspection, _ = _for_decision(actor, inspection_id)
    inspection.decision_reason = reason[:500]
    _decided(inspection, actor, Inspection.State.REFUSED)
    return inspection
