"""统计分析 (both tiers): one month's counters by city, agency, type, consumer or matter, as a
table and a server-rendered SVG chart of the main metrics, and the same report as CSV. The
report is `shared.statistics.selectors.statistics_report`, the API's own, with its scopes
(library administrator and supervisor: everything; agency administrator: its own agency)."""

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone

from shared.accounts.models import User
from shared.accounts.requests import AuthenticatedHttpRequest
from shared.console import roles
from shared.console.helpers import Refusal
from shared.statistics import selectors
from shared.statistics.api.views import report_csv
from shared.statistics.metrics import event_metrics

# The five figures a supervisor reads first: code → (label, bar colour). `changed` is every
# licence event but the issue itself (renew, amend, suspend, revoke …).
MAIN: dict[str, tuple[str, str]] = {
    "issue": ("签发", "#1a5fb4"),
    "changed": ("变更", "#26a269"),
    "query": ("查询", "#c64600"),
    "review_received": ("异议（复核申请）", "#9141ac"),
    "arrival_late": ("汇聚迟到", "#c01c28"),
}
CHART_ROWS = 15  # the busiest keys; the table and the CSV have all of them
WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 900, 280, 48, 56, 12


def reads_statistics(user: User) -> bool:
    """Whom `statistics_scope` answers (the selector refuses everyone else again)."""
    return user.is_library_admin or user.is_supervisor or user.is_agency_admin


def main_figures(metrics: dict[str, int]) -> dict[str, int]:
    changes = [code for code in event_metrics() if code != "issue"]
    figures = {code: metrics.get(code, 0) for code in MAIN if code != "changed"}
    figures["changed"] = sum(metrics.get(code, 0) for code in changes)
    return {code: figures[code] for code in MAIN}


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupedBar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupedChart:
    title: str
    bars: list[GroupedBar]
    labels: list[tuple[float, str]]  # (x, key's name) under each group
    ticks: list[tuple[float, str]]
    legend: list[tuple[int, str, str]]  # (x, colour, label)
    width: int = WIDTH
    height: int = HEIGHT
    baseline: float = HEIGHT - BOTTOM


def grouped_chart(title: str, rows: list[dict[str, Any]]) -> GroupedChart:
    """A group of five bars (the MAIN figures) per row, on one scale."""
    plot_w, plot_h = WIDTH - LEFT - 12, HEIGHT - TOP - BOTTOM
    top = max([max(r["figures"].values(), default=0) for r in rows] + [1])
    step = plot_w / max(len(rows), 1)
    bar_w = step * 0.8 / len(MAIN)
    bars, labels = [], []
    for i, row in enumerate(rows):
        left = LEFT + i * step + step * 0.1
        for j, (code, (label, colour)) in enumerate(MAIN.items()):
            value = row["figures"][code]
            height = plot_h * value / top
            bars.append(
                GroupedBar(
                    x=round(left + j * bar_w, 1),
                    y=round(HEIGHT - BOTTOM - height, 1),
                    width=round(bar_w * 0.9, 1),
                    height=round(height, 1),
                    colour=colour,
                    title=f"{row['name'] or row['key'] or '（不涉及）'} {label}：{value}",
                )
            )
        labels.append((round(LEFT + i * step + step / 2, 1), (row["name"] or row["key"])[:8]))
    ticks = [
        (round(HEIGHT - BOTTOM - plot_h * share, 1), f"{top * share:g}") for share in (0, 0.5, 1)
    ]
    legend = [(60 + 150 * i, colour, label) for i, (label, colour) in enumerate(MAIN.values())]
    return GroupedChart(title=title, bars=bars, labels=labels, ticks=ticks, legend=legend)


def _asked(request: AuthenticatedHttpRequest) -> dict[str, str]:
    return {
        k: request.GET.get(k, "").strip()[:30] for k in ("month", "by", "city", "agency", "type")
    }


@roles.console_view(reads_statistics)
def statistics(request: AuthenticatedHttpRequest) -> HttpResponse:
    asked = _asked(request)
    context: dict[str, Any] = {
        "asked": asked,
        "by_labels": selectors.BY_LABELS,
        "main": [(code, label) for code, (label, _) in MAIN.items()],
        "error": "",
    }
    try:
        query = selectors.report_query(asked, today=timezone.localdate())
        report = selectors.statistics_report(user=request.user, query=query)
    except Refusal as exc:
        context["error"] = exc.message
        return render(request, "console/supervision/statistics.html", context, status=400)
    rows: list[dict[str, Any]] = [
        {"key": r.key, "name": r.name, "figures": main_figures(r.metrics)} for r in report.rows
    ]
    busiest = sorted(rows, key=lambda r: -sum(r["figures"].values()))[:CHART_ROWS]
    title = f"{report.month:%Y 年 %m 月}按{selectors.BY_LABELS[report.by]}的主要指标"
    context |= {
        "report": report,
        "month": f"{report.month:%Y-%m}",
        "rows": rows,
        "totals": main_figures(report.totals),
        "chart": grouped_chart(title, busiest),
        "csv_query": request.GET.urlencode(),
    }
    return render(request, "console/supervision/statistics.html", context)


@roles.console_view(reads_statistics)
def statistics_csv(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The API's CSV (`report_csv`) of the report on screen, every metric a column."""
    try:
        query = selectors.report_query(_asked(request), today=timezone.localdate())
        report = selectors.statistics_report(user=request.user, query=query)
    except Refusal as exc:
        return HttpResponse(exc.message, status=400, content_type="text/plain; charset=utf-8")
    response = HttpResponse(report_csv(report), content_type="text/csv; charset=utf-8")
    name = f"statistics-{settings.LIBRARY_CODE}-{report.month:%Y-%m}-{report.by}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
