"""The fields a bulk-analysis request may name and an approval may grant: the licence
metadata (`META_FIELDS`, stable names that head the export's columns, `META_LABELS` their
Chinese names for the screens) and the requested types' surface fields (`surface.<key>`)."""

from __future__ import annotations

from shared.access.models import BulkRequest
from shared.catalog.models import LicenseType
from shared.core.errors import PermanentError

META_FIELDS = (
    "identifier",
    "version",
    "status",
    "type_code",
    "type_name",
    "issuer_code",
    "number",
    "holder_name",
    "holder_code",
    "holder_code_type",
    "issue_date",
    "valid_from",
    "valid_to",
    "area_code",
    "library_code",
)
# The Chinese names of the fields a request may name (screens; the export's header keeps
# the stable names above).
META_LABELS = {
    "identifier": "证照标识",
    "version": "版本",
    "status": "状态",
    "type_code": "证照类型代码",
    "type_name": "证照名称",
    "issuer_code": "签发单位代码",
    "number": "证照编号",
    "holder_name": "持证主体名称",
    "holder_code": "持证主体代码",
    "holder_code_type": "持证主体代码类型",
    "issue_date": "颁证日期",
    "valid_from": "有效期起始",
    "valid_to": "有效期截止",
    "area_code": "行政区划代码",
    "library_code": "所属证照库",
}


def allowed_fields(types: list[LicenseType]) -> set[str]:
    allowed = set(META_FIELDS)
    for license_type in types:
        properties = (license_type.surface_schema or {}).get("properties", {})
        allowed.update(f"surface.{key}" for key in properties)
    return allowed


def field_label(name: str) -> str:
    """A field's Chinese name: a metadata field's label, a surface field's key（照面）."""
    if name.startswith("surface."):
        return f"{name.removeprefix('surface.')}（照面）"
    return META_LABELS.get(name, name)


def _named(names: list[str]) -> str:
    """A few field names for a message (they may be anything a caller sent: at most five)."""
    shown = "、".join(name[:40] for name in names[:5])
    return f"{shown} 等 {len(names)} 个" if len(names) > 5 else shown


def approved_fields(request: BulkRequest, fields: list[str] | None) -> list[str]:
    """The fields an approval grants: all requested (None) or a non-empty subset of them,
    each one the types allow; in the request's order, so the export's columns are too."""
    if fields is None:
        return list(request.fields)
    chosen = set(fields)
    if not chosen:
        raise PermanentError(
            "bulk.fields_empty", "批准时至少保留一个字段；不同意请拒绝", {"field": "fields"}
        )
    unknown = sorted(chosen - allowed_fields(list(request.license_types.all())))
    if unknown:
        raise PermanentError(
            "bulk.field_unknown",
            "批准的字段不在所申请证照类型的可用字段之内：" + _named(unknown),
            {"field": "fields", "fields": unknown},
        )
    extra = sorted(chosen - set(request.fields))
    if extra:
        raise PermanentError(
            "bulk.field_not_requested",
            "只能批准申请中的字段，不能多于申请：" + _named(extra),
            {"field": "fields", "fields": extra},
        )
    return [name for name in request.fields if name in chosen]
