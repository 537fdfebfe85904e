"""The audit trail as CSV: UTF-8 with a BOM (Excel opens it), Beijing time (+08:00), and no
cell a spreadsheet would run as a formula."""

import csv
import json
from collections.abc import Iterable, Iterator
from typing import Any

from django.utils import timezone

from shared.audit.models import AuditEntry

# What a spreadsheet reads as the start of a formula (OWASP "CSV injection"), as the access
# log's export neutralises them (shared.access.text.csv_cell; audit sits below access).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

COLUMNS = [
    ("id", "编号"),
    ("occurred_at", "时间"),
    ("username", "操作人"),
    ("agency_code", "操作人单位代码"),
    ("action", "操作"),
    ("target_type", "对象类型"),
    ("target_id", "对象标识"),
    ("before", "修改前"),
    ("after", "修改后"),
    ("detail", "说明"),
    ("library_code", "库代码"),
    ("request_id", "请求编号"),
]
ROW_CAP = 200_000


def csv_cell(value: Any) -> Any:
    """Text a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _value(entry: AuditEntry, name: str) -> Any:
    value = getattr(entry, name)
    if name == "occurred_at":
        return timezone.localtime(value).isoformat()
    if name in ("before", "after", "detail"):
        value = "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)
    return csv_cell(value)


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_rows(entries: Iterable[AuditEntry]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow([label for _, label in COLUMNS])
    for entry in entries:
        yield writer.writerow([_value(entry, name) for name, _ in COLUMNS])
