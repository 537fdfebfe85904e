"""Bulk upload files: the CSV and XLSX templates of a type, reading an upload (CSV, or XLSX
through `bulk_xlsx`) into the batch API's rows, and the per-row error report (row number,
field, message).

A row is shape-checked by the issue API's own input serializer (as the batch API does); a file
with any malformed row is refused whole, with every such row in the report, so nothing is half
issued. The business rules (surface schema, holder registry, dates) are the batch job's, row
by row; their refusals come back in the same report. Each row carries its line number in the
file (`source_row`), so the report names the line the person has to fix.
"""

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.http import QueryDict

from shared.catalog.models import LicenseType
from shared.console import bulk_xlsx
from shared.console.bulk_xlsx import xlsx_rows
from shared.console.helpers import _flatten
from shared.console.surface_form import surface_fields, surface_values
from shared.core.errors import PermanentError
from shared.licenses.api.serializers import LicenseIssueSerializer

# Fixed columns: (header, the issue API's field, an example value).
COLUMNS = (
    ("证照编号", "number", "JY14101000000001"),
    ("持证主体名称", "holder.name", "郑州示例食品有限公司"),
    ("持证主体代码类型", "holder.code_type", "001"),
    ("持证主体代码", "holder.code", "91410100MA0000000X"),
    ("有效期起始", "valid_from", "2026-01-01"),
    ("有效期截止", "valid_to", "2030-12-31（长期有效留空）"),
    ("办结时间", "case_completed_at", "2026-01-01 09:30"),
    ("事项编码", "matter_code", ""),
)
LABEL = {field: header for header, field, _ in COLUMNS}
SURFACE_LABEL = "照面信息"
MAX_BYTES = 5 * 1024 * 1024
YES = ("是", "true", "1", "y", "yes", "on")
ENCODINGS = ("utf-8-sig", "gb18030")  # Excel in China saves CSV as GB 18030 by default


def surface_names(license_type: LicenseType) -> list[str]:
    return [f.name for f in surface_fields(license_type.surface_schema or {})]


def _template(license_type: LicenseType) -> tuple[list[str], list[str]]:
    names = surface_names(license_type)
    return [h for h, _, _ in COLUMNS] + names, [e for _, _, e in COLUMNS] + ["" for _ in names]


def template_csv(license_type: LicenseType) -> bytes:
    """Headers and one example row; UTF-8 with a BOM so Excel opens the Chinese right."""
    out = io.StringIO()
    csv.writer(out).writerows(_template(license_type))
    return ("\ufeff" + out.getvalue()).encode()


def template_xlsx(license_type: LicenseType) -> bytes:
    return bulk_xlsx.template_xlsx(*_template(license_type))


def _decode(raw: bytes) -> str:
    for encoding in ENCODINGS:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise PermanentError("bulk.encoding", "文件编码无法识别，请以 UTF-8 或 GB18030 保存 CSV")


def _row_data(license_type: LicenseType, record: dict[str, str]) -> dict:
    def get(field: str) -> str:
        return (record.get(LABEL[field]) or "").strip()

    typed = QueryDict(mutable=True)
    for field in surface_fields(license_type.surface_schema or {}):
        text = (record.get(field.name) or "").strip()
        if field.kind == "boolean":
            text = "on" if text.lower() in YES else ""
        typed[field.input_name] = text
    surface = surface_values(license_type.surface_schema or {}, typed)
    data: dict[str, Any] = {
        "type_code": license_type.type_code,
        "number": get("number"),
        "holder": {
            "name": get("holder.name"),
            "code": get("holder.code"),
            "code_type": get("holder.code_type"),
        },
        "valid_from": get("valid_from"),
        "valid_to": get("valid_to") or None,
        "case_completed_at": get("case_completed_at"),
        "matter_code": get("matter_code"),
        "surface": surface,
    }
    return data


def _csv_rows(raw: bytes) -> tuple[list[str], Iterator[tuple[int, dict[str, str]]]]:
    if b"\x00" in raw[:4096]:
        raise PermanentError("bulk.not_csv", "文件不是 CSV 或 XLSX 文件，请使用下载的模板")
    reader = csv.DictReader(io.StringIO(_decode(raw)))
    headers = [h.strip() for h in (reader.fieldnames or [])]
    reader.fieldnames = headers

    def records() -> Iterator[tuple[int, dict[str, str]]]:
        for record in reader:
            yield reader.line_num, {k: v for k, v in record.items() if isinstance(v, str)}

    return headers, records()


def read_upload(
    license_type: LicenseType, raw: bytes
) -> tuple[list[dict[str, Any]], list[tuple[int, str, str]]]:
    """The rows of an uploaded CSV or XLSX as batch items, or the errors of its malformed rows
    [(line, field, message)]. A file that is neither, or not of this type, is refused outright."""
    if len(raw) > MAX_BYTES:
        raise PermanentError("bulk.too_large", "文件超过 5 MB，请分批上传")
    limit = settings.BATCH_MAX_ITEMS
    if raw[:4] == b"PK\x03\x04":  # a zip: an XLSX workbook
        headers, records = xlsx_rows(raw, limit=limit)
    else:
        headers, records = _csv_rows(raw)
    missing = [h for h, _, _ in COLUMNS[:7] if h not in headers]
    if missing:
        raise PermanentError(
            "bulk.columns", f"文件缺少列：{'、'.join(missing)}。请使用本类证照的模板", {}
        )
    items: list[dict[str, Any]] = []
    errors: list[tuple[int, str, str]] = []
    for line, record in records:
        if not any(v.strip() for v in record.values()):
            continue  # a blank line
        if len(items) + len(errors) >= limit:
            raise PermanentError("batch.too_large", f"单个批量任务最多 {limit} 条记录")
        serializer = LicenseIssueSerializer(data=_row_data(license_type, record))
        if not serializer.is_valid():
            for field, message in _flatten(serializer.errors).items():
                errors.append((line, column_label(field), message))
            continue
        item = json.loads(json.dumps(serializer.validated_data, cls=DjangoJSONEncoder))
        item["source_row"] = line
        items.append(item)
    if not items and not errors:
        raise PermanentError("bulk.empty", "文件中没有数据行")
    return items, errors


def column_label(field: str) -> str:
    if field.startswith("surface"):
        return SURFACE_LABEL
    return LABEL.get(field, field)


# A batch row's refusal, by its code, names the column to fix.
COLUMN_OF_CODE = {
    "surface": SURFACE_LABEL,
    "citizen_id": LABEL["holder.code"],
    "uscc": LABEL["holder.code"],
    "holder": LABEL["holder.code"],
    "validity": LABEL["valid_to"],
    "license.number_required": LABEL["number"],
    "license.number_taken": LABEL["number"],
    "license.case_completed_in_future": LABEL["case_completed_at"],
    "license.case_completed_too_early": LABEL["case_completed_at"],
    "license.matter_unknown": LABEL["matter_code"],
}


def column_of(code: str) -> str:
    return COLUMN_OF_CODE.get(code) or COLUMN_OF_CODE.get(code.split(".")[0], "")


def report_csv(rows: list[tuple[int, str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["行号", "字段", "错误信息"])
    writer.writerows(rows)
    return ("\ufeff" + out.getvalue()).encode()
