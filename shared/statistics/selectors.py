"""Reading the statistics: one month's counters grouped by one dimension, within the caller's
scope. Reads only `Counter` (a few hundred thousand rows a month for a whole province, found by
the month index), never the licences, events or access records themselves."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db import connections
from django.db.models import BigIntegerField, Max, Q, QuerySet, Sum
from django.db.models.functions import Cast

from shared.accounts.models import Agency, User
from shared.catalog.models import LicenseType
from shared.conf.divisions import CITIES, PROVINCE_CODE, PROVINCE_NAME
from shared.core.errors import ForbiddenError, PermanentError
from shared.core.replica import stale_reads_alias
from shared.statistics.metrics import all_metrics
from shared.statistics.models import Counter, Watermark

# `by` → the counter column it groups on.
BY_COLUMNS: dict[str, str] = {
    "city": "library_code",
    "agency": "agency_code",
    "type": "type_code",
    "consumer": "consumer_code",
    "matter": "matter_code",
}
BY_LABELS: dict[str, str] = {
    "city": "证照库（市）",
    "agency": "签发单位",
    "type": "证照类型",
    "consumer": "用证单位",
    "matter": "事项",
}
# filter parameter → (counter column, what a value looks like)
FILTERS: dict[str, tuple[str, re.Pattern[str]]] = {
    "city": ("library_code", re.compile(r"[0-9]{6}")),
    "agency": ("agency_code", re.compile(r"[0-9A-Z]{1,18}")),
    "type": ("type_code", re.compile(r"[0-9A-Z]{1,21}")),
}
MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportQuery:
    month: date
    by: str
    filters: dict[str, str]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportRow:
    key: str
    name: str
    metrics: dict[str, int]


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    month: date
    by: str
    scope: str  # "library" (everything this library counts) or "agency" (the caller's own)
    metrics: dict[str, str]
    rows: list[ReportRow]
    totals: dict[str, int]
    rolled_up_at: datetime | None


def report_query(params: Mapping[str, Any], *, today: date) -> ReportQuery:
    """The report asked for by query parameters `month` (YYYY-MM, default this month), `by`
    (default city) and the filters `city`, `agency`, `type`; 400 with a code otherwise."""
    raw_month = str(params.get("month") or f"{today:%Y-%m}")
    found = MONTH.fullmatch(raw_month)
    if not found or not 1 <= int(found[2]) <= 12 or not 2000 <= int(found[1]) <= 2999:
        raise PermanentError(
            "statistics.month_invalid",
            "月份格式应为 YYYY-MM，如 2026-11",
            {"month": raw_month[:20]},
        )
    by = str(params.get("by") or "city")
    if by not in BY_COLUMNS:
        raise PermanentError(
            "statistics.by_invalid",
            "统计维度应为 city、agency、type、consumer 或 matter 之一",
            {"by": by[:20], "allowed": list(BY_COLUMNS)},
        )
    filters: dict[str, str] = {}
    for name, (_, pattern) in FILTERS.items():
        value = str(params.get(name) or "")
        if value and not pattern.fullmatch(value):
            raise PermanentError(
                "statistics.filter_invalid",
                "筛选条件格式不正确：city 为 6 位行政区划代码，agency 为统一社会信用代码，"
                "type 为 21 位证照类型代码",
                {"field": name},
            )
        if value:
            filters[name] = value
    return ReportQuery(month=date(int(found[1]), int(found[2]), 1), by=by, filters=filters)


def statistics_scope(*, user: User) -> Q | None:
    """What `user` may read: None for everything this library counts (its administrator, the
    supervisor), the counters of its own agency for an agency administrator (the licences it
    issued and its own uses of licences); 403 for anyone else."""
    if user.is_library_admin or user.is_supervisor:
        return None
    if user.is_agency_admin and user.agency is not None:
        code = user.agency.code
        return Q(agency_code=code) | Q(consumer_code=code)
    raise ForbiddenError(
        "statistics.forbidden", "仅库管理员、监管人员和单位管理员可查看监管统计", {}
    )


def statistics_report(*, user: User, query: ReportQuery) -> Report:
    """One month's counters grouped by `query.by`, every metric in every row (0 where none).

    Read from the replica when there is one: counters are rolled up every few minutes, so a
    standby's seconds of lag change nothing a reader could tell."""
    scope = statistics_scope(user=user)
    using = stale_reads_alias()
    counters = Counter.objects.using(using).filter(month=query.month)
    if scope is not None:
        counters = counters.filter(scope)
    for name, value in query.filters.items():
        counters = counters.filter(**{FILTERS[name][0]: value})
    column = BY_COLUMNS[query.by]
    grouped = (
        counters.order_by()
        .values_list(column, "metric")
        .annotate(total=Cast(Sum("count"), BigIntegerField()))
        .order_by()
    )
    # Tens of thousands of (key, metric) sums for a province: read as plain tuples, without
    # the ORM's per-row conversions (a third of the time otherwise).
    sql, params = grouped.query.get_compiler(using).as_sql()
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        found: list[tuple[str, str, int]] = cursor.fetchall()
    metrics = all_metrics()
    # a metric counted by older code (an action since renamed) is still shown, by its code
    metrics |= {metric: metric for _, metric, _ in found if metric not in metrics}
    by_key: dict[str, dict[str, int]] = {}
    totals = dict.fromkeys(metrics, 0)
    for key, metric, total in found:
        row = by_key.get(key)
        if row is None:
            row = by_key[key] = dict.fromkeys(metrics, 0)
        row[metric] += total
        totals[metric] += total
    names = _names(query.by, list(by_key), using=using)
    return Report(
        month=query.month,
        by=query.by,
        scope="library" if scope is None else "agency",
        metrics=metrics,
        rows=[ReportRow(key=k, name=names.get(k, ""), metrics=by_key[k]) for k in sorted(by_key)],
        totals=totals,
        rolled_up_at=Watermark.objects.using(using).aggregate(last=Max("run_at"))["last"],
    )


def _names(by: str, keys: list[str], *, using: str) -> dict[str, str]:
    """Display names of the keys (a blank key: not about a consumer or matter)."""
    names = {"": "（不涉及）"}
    if by == "city":
        names |= {PROVINCE_CODE: PROVINCE_NAME, **CITIES}
    elif by in ("agency", "consumer"):
        names |= _looked_up(Agency.objects.using(using), "code", keys)
    elif by == "type":
        names |= _looked_up(LicenseType.objects.using(using), "type_code", keys)
    else:
        wanted = set(keys)
        for matters in LicenseType.objects.using(using).values_list("related_matters", flat=True):
            for matter in matters if isinstance(matters, list) else []:
                if isinstance(matter, dict) and matter.get("code") in wanted:
                    names.setdefault(str(matter["code"]), str(matter.get("name", "")))
    return names


def _looked_up(rows: QuerySet[Any], field: str, keys: list[str]) -> dict[str, str]:
    """`field` → name of the rows with those keys: by key for a few, the whole (small) table
    for many (a list of thousands of parameters costs more to send than the table)."""
    if len(keys) <= 200:
        rows = rows.filter(**{f"{field}__in": keys})
    wanted = set(keys)
    return {key: name for key, name in rows.values_list(field, "name") if key in wanted}
