"""Writes for the licence catalogue."""

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from shared.accounts.models import Agency, User
from shared.catalog.models import LicenseType
from shared.catalog.signals import license_type_changed
from shared.catalog.surface import check_schema
from shared.core.errors import ConflictError, ForbiddenError, PermanentError
from shared.domain.errors import DomainError
from shared.domain.identifiers import validate_type_code
from shared.domain.windows import parse_window

# Fields that may change after publication: they do not alter what an issued licence means.
PUBLISHED_EDITABLE = frozenset({"description", "qr_validity_days", "related_matters", "template"})
EDITABLE = frozenset(
    {
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
        "inspection_window_start",
        "inspection_window_end",
        "requires_review",
        "description",
    }
)


def _require_issuer_staff(actor: User) -> Agency:
    agency = actor.agency
    if agency is None or not agency.is_issuer or not agency.active:
        raise ForbiddenError("catalog.not_issuer", "只有证照签发单位的人员可以维护证照目录")
    return agency


def _require_owner(actor: User, license_type: LicenseType) -> None:
    if actor.agency_id != license_type.issuer_id:
        raise ForbiddenError("catalog.not_owner", "只能维护本单位登记的证照类型")


def _check_validity(min_days: int | None, max_days: int | None) -> None:
    if min_days is not None and max_days is not None and min_days > max_days:
        raise PermanentError("catalog.validity_range", "最短有效期不能大于最长有效期")


def _check_inspection(annual: bool, start: str, end: str) -> None:
    """A type that requires annual inspection names its window; one that does not names none
    (it would mean nothing)."""
    if not annual:
        if start or end:
            raise PermanentError(
                "catalog.inspection_window",
                "未要求年检的证照类型不能设置年检时段",
                {"field": "inspection_window_start" if start else "inspection_window_end"},
            )
        return
    if not start or not end:
        raise PermanentError(
            "catalog.inspection_window",
            "需要年检的证照类型必须设置年检时段（开始与截止日期，MM-DD）",
            {"field": "inspection_window_end" if start else "inspection_window_start"},
        )
    try:
        parse_window(start, end)
    except DomainError as exc:
        raise PermanentError(exc.code, exc.message, exc.detail) from exc


@transaction.atomic
def license_type_create(*, actor: User, type_code: str, **fields: Any) -> LicenseType:
    """Register a catalogue entry (draft) owned by the actor's issuing agency."""
    agency = _require_issuer_staff(actor)
    code = validate_type_code(type_code)
    schema = fields.get("surface_schema") or {"type": "object", "properties": {}}
    check_schema(schema)
    _check_validity(fields.get("validity_min_days"), fields.get("validity_max_days"))
    _check_inspection(
        bool(fields.get("annual_inspection")),
        fields.get("inspection_window_start", ""),
        fields.get("inspection_window_end", ""),
    )
    data = {k: v for k, v in fields.items() if k in EDITABLE}
    data["surface_schema"] = schema
    data.setdefault("definer_code", code[:18])
    try:
        with transaction.atomic():
            license_type = LicenseType.objects.create(type_code=code, issuer=agency, **data)
    except IntegrityError as exc:
        raise ConflictError(
            "catalog.type_exists", "证照类型代码已存在", {"type_code": code}
        ) from exc
    license_type_changed.send(sender=LicenseType, license_type=license_type)
    return license_type


@transaction.atomic
def license_type_update(*, actor: User, license_type: LicenseType, **fields: Any) -> LicenseType:
    _require_owner(actor, license_type)
    license_type = LicenseType.objects.select_for_update().get(pk=license_type.pk)
    if license_type.state != LicenseType.State.DRAFT:
        frozen = set(fields) - PUBLISHED_EDITABLE
        if frozen:
            raise ConflictError(
                "catalog.type_frozen",
                "证照类型发布后只能修改说明、二维码有效期、关联事项和版式",
                {"fields": sorted(frozen)},
            )
    if "surface_schema" in fields:
        check_schema(fields["surface_schema"])
    _check_validity(
        fields.get("validity_min_days", license_type.validity_min_days),
        fields.get("validity_max_days", license_type.validity_max_days),
    )
    _check_inspection(
        fields.get("annual_inspection", license_type.annual_inspection),
        fields.get("inspection_window_start", license_type.inspection_window_start),
        fields.get("inspection_window_end", license_type.inspection_window_end),
    )
    for key, value in fields.items():
        if key in EDITABLE:
            setattr(license_type, key, value)
    license_type.save()
    license_type_changed.send(sender=LicenseType, license_type=license_type)
    return license_type


@transaction.atomic
def license_type_publish(*, actor: User, license_type: LicenseType) -> LicenseType:
    _require_owner(actor, license_type)
    license_type = LicenseType.objects.select_for_update().get(pk=license_type.pk)
    if license_type.state != LicenseType.State.DRAFT:
        raise ConflictError("catalog.illegal_state", "只有草稿状态的证照类型可以发布")
    license_type.state = LicenseType.State.PUBLISHED
    license_type.published_at = timezone.now()
    license_type.save(update_fields=["state", "published_at", "updated_at"])
    license_type_changed.send(sender=LicenseType, license_type=license_type)
    return license_type


@transaction.atomic
def license_type_retire(*, actor: User, license_type: LicenseType) -> LicenseType:
    _require_owner(actor, license_type)
    license_type = LicenseType.objects.select_for_update().get(pk=license_type.pk)
    if license_type.state != LicenseType.State.PUBLISHED:
        raise ConflictError("catalog.illegal_state", "只有已发布的证照类型可以停用")
    license_type.state = LicenseType.State.RETIRED
    license_type.retired_at = timezone.now()
    license_type.save(update_fields=["state", "retired_at", "updated_at"])
    license_type_changed.send(sender=LicenseType, license_type=license_type)
    return license_type
