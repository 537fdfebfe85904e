""" "Who used my licence" (谁使用了我的证照) for a holder: the records of their licences filtered
by licence, operation, agency and a date range, paginated on the page and exported as CSV
(UTF-8 with a BOM so Excel opens the Chinese) with exactly the rows the filters select. The
export is itself an access record (`log_read`, detail `export`), written after the rows are
fixed so it is never one of them."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from datetime import datetime, time, timedelta
from typing import Any

import django_filters
from django.db.models import Q, QuerySet
from django.utils import timezone

from shared.access.models import AccessRecord
from shared.access.selectors import access_log_since
from shared.access.services import access_record
from shared.accounts.models import User
from shared.audit.export import csv_cell
from shared.core.errors import PermanentError

FIELDS = ("identifier", "operation", "agency", "since", "until")
EXPORT_CAP = 50_000


class HolderAccessFilterSet(django_filters.FilterSet):
    """`until` is a day included; `agency` matches the agency's code exactly or its name in
    part (a holder knows 不动产登记中心, rarely its 18-character code)."""

    identifier = django_filters.CharFilter(label="证照")
    operation = django_filters.ChoiceFilter(choices=AccessRecord.Operation.choices, label="操作")
    agency = django_filters.CharFilter(method="filter_agency", label="用证单位")
    since = django_filters.DateFilter(method="filter_since", label="起始日期")
    until = django_filters.DateFilter(method="filter_until", label="截止日期")

    class Meta:
        model = AccessRecord
        fields = list(FIELDS)

    def filter_agency(self, qs: QuerySet[AccessRecord], name: str, value: str) -> Any:
        return qs.filter(Q(agency_code=value.upper()) | Q(agency_name__contains=value))

    def filter_since(self, qs: QuerySet[AccessRecord], name: str, value: Any) -> Any:
        return access_log_since(qs, moment=_day_start(value))

    def filter_until(self, qs: QuerySet[AccessRecord], name: str, value: Any) -> Any:
        return qs.filter(occurred_at__lt=_day_start(value + timedelta(days=1)))


def _day_start(day: Any) -> Any:
    """Midnight of `day` in the site's zone (Asia/Shanghai): the day a holder means."""
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def holder_access_filter(
    *, records: QuerySet[AccessRecord], params: Mapping[str, str]
) -> tuple[QuerySet[AccessRecord], dict[str, str]]:
    """The records the filters select (newest first) and the filters as given; a filter that
    is not valid is a 400 `access.filter_invalid` naming the field, nothing read."""
    asked = {k: str(params.get(k, "")).strip()[:120] for k in FIELDS}
    if any("\x00" in v for v in asked.values()):
        raise PermanentError("access.filter_invalid", "筛选条件无效", {"fields": ["text"]})
    filters = HolderAccessFilterSet(data={k: v for k, v in asked.items() if v}, queryset=records)
    if not filters.is_valid():
        raise PermanentError(
            "access.filter_invalid",
            "筛选条件无效：" + "；".join(_label(k) for k in filters.errors),
            {"fields": sorted(filters.errors)},
        )
    since, until = filters.form.cleaned_data.get("since"), filters.form.cleaned_data.get("until")
    if since and until and since > until:
        raise PermanentError(
            "access.filter_invalid", "筛选条件无效：起始日期晚于截止日期", {"fields": ["since"]}
        )
    return filters.qs.order_by("-id"), asked


def _label(field: str) -> str:
    return str(HolderAccessFilterSet.base_filters[field].label or field)


CSV_COLUMNS = [
    ("occurred_at", "时间"),
    ("agency_name", "用证单位"),
    ("agency_code", "用证单位代码"),
    ("username", "经办人"),
    ("operation", "操作"),
    ("file", "文件"),
    ("on_behalf_of", "代表（法人授权）"),
    ("matter_code", "事项编码"),
    ("use_cause", "用证事由"),
    ("identifier", "证照标识"),
    ("outcome", "结果"),
    ("reason_code", "拒绝原因"),
    ("seq", "链上序号"),
]


def _value(record: AccessRecord, name: str) -> Any:
    if name == "occurred_at":
        return timezone.localtime(record.occurred_at).strftime("%Y-%m-%d %H:%M:%S")
    if name == "operation":
        return record.get_operation_display()
    if name == "outcome":
        return record.get_outcome_display()
    if name in ("file", "on_behalf_of"):
        return csv_cell(str((record.detail or {}).get(name, "")))
    value = getattr(record, name)
    return "" if value is None else csv_cell(value)


def holder_access_export(
    *,
    user: User,
    holder: User,
    records: QuerySet[AccessRecord],
    asked: dict[str, str],
    actor_detail: dict[str, str],
) -> bytes:
    """The CSV of `records` (already filtered), oldest first, at most `EXPORT_CAP` rows; the
    export is recorded (by `user`, on `holder`'s code) once the rows are read."""
    rows = list(records.order_by("id")[:EXPORT_CAP])
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([label for _, label in CSV_COLUMNS])
    for record in rows:
        writer.writerow([_value(record, name) for name, _ in CSV_COLUMNS])
    access_record(
        user=user,
        operation=AccessRecord.Operation.LOG_READ,
        matter_code="",
        use_cause="",
        licenses=[],
        outcome=AccessRecord.Outcome.ALLOWED,
        holder_code=holder.holder_code,
        holder_code_type=holder.holder_code_type,
        detail={
            "export": "csv",
            "rows": len(rows),
            "filters": {k: v for k, v in asked.items() if v},
            **actor_detail,
        },
    )
    return ("\ufeff" + out.getvalue()).encode("utf-8")
