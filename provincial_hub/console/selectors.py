"""Reads behind the hub's console: each city's health from the aggregation selector (the one
behind /api/v1/aggregation/nodes/), licences aggregated per day, and the sync lag over time."""

from datetime import timedelta
from typing import Any

from django.db.models import Avg, Count, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from provincial_hub.aggregation.selectors import (
    LAG_SCALES,
    LagBucket,
    LagScale,
    aggregation_nodes,
    arrival_lag_series,
)
from shared.console.charts import Chart, LineChart, bar_chart, line_chart
from shared.core.replica import stale_reads_alias
from shared.federation.models import Arrival, ReceivedEnvelope, RejectedEvent

# Behind by more than this (no event although the city has a backlog, or lag on arrivals)
# shows the city as late.
LATE_LAG_SECONDS = 15 * 60
HEALTH_LABELS = {"healthy": "正常", "late": "滞后", "failing": "异常", "idle": "尚未接入"}


def city_health(city: dict[str, Any]) -> tuple[str, list[str]]:
    """healthy / late / failing (or idle: nothing received yet), and why."""
    reasons = []
    files = city["files"]
    last_run = city["last_reconciliation"]
    if city["refused_envelopes_24h"]:
        reasons.append(f"24 小时内拒收信封 {city['refused_envelopes_24h']} 个")
    if city["rejected_events"]:
        reasons.append(f"死信 {city['rejected_events']} 条")
    if files.get("failed"):
        reasons.append(f"文件获取失败 {files['failed']} 个")
    if last_run and last_run["state"] == "failed":
        reasons.append("最近一次对账失败")
    if reasons:
        return "failing", reasons
    lag = city["lag_seconds_max_24h"] or 0
    late_count = sum(row["late"] for row in city["late_by_issuer"])
    if city["backlog"]:
        reasons.append(f"积压 {city['backlog']} 条")
    if lag > LATE_LAG_SECONDS:
        reasons.append("24 小时内最大时延超过 15 分钟")
    if late_count:
        reasons.append(f"逾期到达 {late_count} 件")
    if files.get("pending"):
        reasons.append(f"待获取文件 {files['pending']} 个")
    if reasons:
        return "late", reasons
    if not city["high_water_mark"] and not city["last_envelope_at"]:
        return "idle", ["尚未收到该市的任何事件"]
    return "healthy", []


def cities() -> list[dict[str, Any]]:
    """The 18 cities of /api/v1/aggregation/nodes/, each with its health and counts."""
    rows = []
    for city in aggregation_nodes():
        health, reasons = city_health(city)
        rows.append(
            city
            | {
                "health": health,
                "health_label": HEALTH_LABELS[health],
                "reasons": reasons,
                "late_total": sum(row["late"] for row in city["late_by_issuer"]),
                "files_missing": city["files"].get("pending", 0) + city["files"].get("failed", 0),
            }
        )
    return rows


def arrivals_chart(*, days: int = 30, city: str = "") -> Chart:
    """Licences aggregated per day (first arrival at the hub), the average lag as a line; from
    the replica when there is one (a 30-day chart: seconds of lag do not show)."""
    today = timezone.localdate()
    first = today - timedelta(days=days - 1)
    rows = Arrival.objects.using(stale_reads_alias()).filter(arrived_at__date__gte=first)
    if city:
        rows = rows.filter(library_code=city)
    per_day = {
        row["day"]: row
        for row in rows.annotate(day=TruncDate("arrived_at"))
        .values("day")
        .annotate(n=Count("id"), lag=Avg("lag_seconds"))
    }
    dates = [first + timedelta(days=i) for i in range(days)]
    return bar_chart(
        title=f"近 {days} 天每日汇聚证照数（柱）与平均时延（线）",
        unit="件",
        points=[(d.strftime("%m-%d"), per_day[d]["n"] if d in per_day else 0) for d in dates],
        line=[per_day[d]["lag"] if d in per_day else None for d in dates],
        line_label="平均时延（秒）",
    )


def city_envelopes(code: str) -> QuerySet[ReceivedEnvelope]:
    return ReceivedEnvelope.objects.filter(sender=code).order_by("-received_at")


def city_dead_letters(code: str) -> QuerySet[RejectedEvent]:
    return RejectedEvent.objects.filter(sender=code).order_by("-created_at")


# p50, p95, max: the colours of the lag chart's three lines
LAG_LINES = (
    ("p50", "中位数 p50", "#1a5fb4"),
    ("p95", "p95", "#c64600"),
    ("max", "最大", "#c01c28"),
)


def lag_scale(asked: str | None) -> LagScale:
    """The `lag` query parameter: `day` (30 days) or anything else the default, `hour`."""
    return "day" if asked == "day" else "hour"


def lag_chart(*, scale: LagScale, city: str = "") -> tuple[LineChart, list[LagBucket]]:
    """The sync lag over time as three lines (p50, p95, max, in seconds), and its buckets
    (the table under the chart lists those with arrivals)."""
    buckets = arrival_lag_series(scale=scale, city=city)
    fmt = "%H:00" if scale == "hour" else "%m-%d"
    chart = line_chart(
        title=f"同步时延 {LAG_SCALES[scale][0]}：中位数、p95 与最大值",
        unit="秒",
        labels=[b.start.strftime(fmt) for b in buckets],
        series=[
            (label, colour, [getattr(b, key) for b in buckets]) for key, label, colour in LAG_LINES
        ],
        label_every=3 if scale == "hour" else 7,
    )
    return chart, [b for b in buckets if b.count]
