"""Supervision statistics API: one month's counters, as JSON or CSV. Thin: parse, one selector."""

import csv
import io
from typing import Any

from django.conf import settings
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from shared.access.text import csv_cell
from shared.accounts.requests import AuthenticatedRequest
from shared.core.api.schema import ErrorSerializer
from shared.statistics import selectors
from shared.statistics.api.serializers import ReportSerializer

PARAMETERS = [
    OpenApiParameter(
        "month", str, description="统计月份 YYYY-MM（北京时间），缺省为本月", required=False
    ),
    OpenApiParameter(
        "by",
        str,
        enum=list(selectors.BY_COLUMNS),
        description="按市（证照库）、签发单位、证照类型、用证单位或事项分组，缺省为 city",
        required=False,
    ),
    OpenApiParameter("city", str, description="只统计该市（6 位行政区划代码）", required=False),
    OpenApiParameter(
        "agency", str, description="只统计该签发单位（统一社会信用代码）", required=False
    ),
    OpenApiParameter("type", str, description="只统计该证照类型（21 位代码）", required=False),
]
DESCRIPTION = (
    "每月按市（证照库）、签发单位、证照类型统计：签发与各类变更（延续、变更、暂扣、恢复、吊销、撤销、"
    "注销、质押、解除质押、到期、年检）、查询/验证/比对（按用证单位与事项）、复核申请及答复（维持/"
    "更正/驳回，按时或逾期）、年检、汇聚到达与迟到。省级枢纽统计全省，市级节点统计本市。计数由定时"
    "汇总任务每分钟增量更新，查询只读计数表。库管理员与监管人员可看全部；单位管理员只能看到本单位"
    "签发的证照与本单位的用证。"
)


def _report(request: AuthenticatedRequest) -> tuple[selectors.ReportQuery, selectors.Report]:
    query = selectors.report_query(request.query_params, today=timezone.localdate())
    return query, selectors.statistics_report(user=request.user, query=query)


def report_body(report: selectors.Report, filters: dict[str, str]) -> dict[str, Any]:
    return {
        "month": f"{report.month:%Y-%m}",
        "by": report.by,
        "scope": report.scope,
        "library_code": settings.LIBRARY_CODE,
        "filters": filters,
        "metrics": [{"code": c, "name": label} for c, label in report.metrics.items()],
        "rows": [{"key": r.key, "name": r.name, "metrics": r.metrics} for r in report.rows],
        "totals": report.totals,
        "rolled_up_at": (
            timezone.localtime(report.rolled_up_at).isoformat() if report.rolled_up_at else None
        ),
    }


class StatisticsReportApi(APIView):
    @extend_schema(
        parameters=PARAMETERS,
        responses={200: ReportSerializer, 400: ErrorSerializer, 403: ErrorSerializer},
        summary="监管统计（按月）",
        description=DESCRIPTION,
    )
    def get(self, request: AuthenticatedRequest) -> Response:
        query, report = _report(request)
        # plain data already: a serializer pass over every metric of thousands of rows would
        # cost more than the query (ReportSerializer documents the shape)
        return Response(report_body(report, query.filters))


def report_csv(report: selectors.Report) -> str:
    """The report as CSV (UTF-8 with BOM, for Excel); text cells that a spreadsheet would run
    as a formula are kept as text."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["月份", "维度", "代码", "名称", *report.metrics.values()])
    month = f"{report.month:%Y-%m}"
    label = selectors.BY_LABELS[report.by]
    for row in report.rows:
        counts = [row.metrics[code] for code in report.metrics]
        writer.writerow([month, label, csv_cell(row.key), csv_cell(row.name), *counts])
    writer.writerow([month, label, "合计", "", *(report.totals[c] for c in report.metrics)])
    return "\ufeff" + out.getvalue()


class StatisticsExportApi(APIView):
    @extend_schema(
        parameters=PARAMETERS,
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV 文件"),
            400: ErrorSerializer,
            403: ErrorSerializer,
        },
        summary="导出监管统计（CSV，UTF-8 BOM，可用 Excel 打开）",
        description=DESCRIPTION,
    )
    def get(self, request: AuthenticatedRequest) -> HttpResponse:
        _, report = _report(request)
        response = HttpResponse(report_csv(report), content_type="text/csv; charset=utf-8")
        name = f"statistics-{settings.LIBRARY_CODE}-{report.month:%Y-%m}-{report.by}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
