"""The checks of a licence's own data at issuing and at every new version: the holder, the
validity, the related matter, the surface. They read only the licence type (no network, no
write), so the services run them before and inside their transactions alike."""

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.utils import timezone

from shared.catalog.models import LicenseType
from shared.catalog.surface import validate_surface
from shared.core.errors import PermanentError
from shared.domain.dates import check_date
from shared.domain.holder_codes import validate_holder_code
from shared.domain.text import check_text, check_text_tree, is_blank


@dataclass(frozen=True, slots=True, kw_only=True)
class Holder:
    name: str
    code: str
    code_type: str


def check_holder_name(name: str) -> str:
    if is_blank(name):
        raise PermanentError("holder.name_required", "持证主体名称不能为空")
    return check_text(name.strip(), field="holder.name", label="持证主体名称")


def check_holder(license_type: LicenseType, holder: Holder, *, legacy: bool) -> Holder:
    name = check_holder_name(holder.name)
    checked = validate_holder_code(
        holder.code, holder.code_type, today=timezone.localdate(), legacy=legacy
    )
    category = license_type.holder_category
    if category == LicenseType.HolderCategory.PERSON and holder.code_type == "001":
        raise PermanentError("holder.category", "该证照的持证主体为个人，不能使用统一社会信用代码")
    if category == LicenseType.HolderCategory.LEGAL and holder.code_type == "111":
        raise PermanentError("holder.category", "该证照的持证主体为法人，不能使用公民身份号码")
    return Holder(name=name, code=checked.code, code_type=holder.code_type)


def check_validity(license_type: LicenseType, valid_from: date, valid_to: date | None) -> None:
    check_date(valid_from, field="valid_from", label="有效期起始日期")
    if valid_to is not None:
        check_date(valid_to, field="valid_to", label="有效期截止日期")
    if valid_to is None:
        if license_type.validity_max_days is not None:
            raise PermanentError(
                "validity.long_term_not_allowed",
                f"该证照最长有效期为 {license_type.validity_max_days} 天，不能长期有效",
            )
        return
    if valid_to < valid_from:
        raise PermanentError("validity.range", "有效期截止日期不能早于起始日期")
    days = (valid_to - valid_from).days
    if license_type.validity_max_days is not None and days > license_type.validity_max_days:
        raise PermanentError(
            "validity.too_long",
            f"有效期超过该证照允许的最长期限（{license_type.validity_max_days} 天）",
        )
    if license_type.validity_min_days is not None and days < license_type.validity_min_days:
        raise PermanentError(
            "validity.too_short",
            f"有效期短于该证照要求的最短期限（{license_type.validity_min_days} 天）",
        )


def check_matter(license_type: LicenseType, matter_code: str) -> None:
    check_text(matter_code, field="matter_code", label="关联事项编码")
    if not matter_code or not license_type.related_matters:
        return
    codes = {m["code"] if isinstance(m, dict) else str(m) for m in license_type.related_matters}
    if matter_code not in codes:
        raise PermanentError(
            "license.matter_unknown",
            "关联事项编码不属于该证照类型的关联事项",
            {"matter_code": matter_code, "allowed": sorted(codes)},
        )


def check_surface(license_type: LicenseType, surface: Any) -> None:
    validate_surface(license_type.surface_schema, surface)
    check_text_tree(surface, field="surface", label="照面信息")
