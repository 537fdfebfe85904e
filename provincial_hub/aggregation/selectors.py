"""Reads for the hub's operators: every city's aggregation, the sync lag over time, the city
files fetched, and the sector libraries' health."""

import math
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any, Literal

from django.core.cache import cache
from django.db import connections
from django.db.models import Avg, Count, Max, Q
from django.utils import timezone

from provincial_hub.aggregation.models import RemoteFile, SectorCall, SectorLibrary
from shared.conf.divisions import CITIES
from shared.core.replica import stale_reads_alias
from shared.federation.models import (
    Arrival,
    InboundCursor,
    QuarantinedRecord,
    ReceivedEnvelope,
    ReconcileRun,
    RejectedEvent,
)


def aggregation_nodes() -> list[dict[str, Any]]:
    """Per city: last event, lag, backlog, failures, late arrivals by issuer, last reconciliation."""
    now = timezone.now()
    since = now - timedelta(hours=24)
    cursors = {c.sender: c for c in InboundCursor.objects.all()}
    failures, rejected, not_owner, quarantined, files = _counts_by_city(since)
    result = []
    for code, name in CITIES.items():
        cursor = cursors.get(code)
        arrivals = Arrival.objects.filter(library_code=code)
        recent = arrivals.filter(arrived_at__gte=since).aggregate(
            avg=Avg("lag_seconds"), max=Max("lag_seconds"), n=Count("id")
        )
        late = list(
            arrivals.filter(late=True)
            .values("issuer_code")
            .annotate(late=Count("id"))
            .order_by("-late")[:20]
        )
        last_run = _last_reconciliation(code)
        result.append(
            {
                "code": code,
                "name": name,
                "high_water_mark": cursor.high_water_mark if cursor else 0,
                "last_event_at": cursor.last_event_at if cursor else None,
                "last_envelope_at": cursor.last_envelope_at if cursor else None,
                "backlog": cursor.backlog if cursor else 0,
                "lag_seconds_avg_24h": recent["avg"],
                "lag_seconds_max_24h": recent["max"],
                "arrivals_24h": recent["n"],
                "refused_envelopes_24h": failures.get(code, 0),
                "rejected_events": rejected.get(code, 0),
                "rejected_not_owner": not_owner.get(code, 0),
                "quarantined_records": quarantined.get(code, 0),
                "late_by_issuer": late,
                "licenses": arrivals.count(),
                "files": {
                    state: files.get(code, {}).get(state, 0) for state in RemoteFile.State.values
                },
                "last_reconciliation": last_run,
            }
        )
    return result


def _counts_by_city(
    since: datetime,
) -> tuple[
    dict[str, int], dict[str, int], dict[str, int], dict[str, int], dict[str, dict[str, int]]
]:
    """Per city: envelopes refused since `since`, events rejected (all, and as not the
    sender's), records quarantined; and its remote files per state."""
    failures = dict(
        ReceivedEnvelope.objects.filter(
            received_at__gte=since, outcome=ReceivedEnvelope.Outcome.REFUSED
        )
        .values_list("sender")
        .annotate(n=Count("id"))
    )
    rejected = dict(RejectedEvent.objects.values_list("sender").annotate(n=Count("id")))
    not_owner = dict(
        RejectedEvent.objects.filter(error_code="federation.not_owner")
        .values_list("sender")
        .annotate(n=Count("id"))
    )
    quarantined = dict(
        QuarantinedRecord.objects.values_list("library_code").annotate(n=Count("id"))
    )
    files: dict[str, dict[str, int]] = {}
    for node, state, n in RemoteFile.objects.values_list("node", "state").annotate(n=Count("id")):
        files.setdefault(node, {})[state] = n
    return failures, rejected, not_owner, quarantined, files


def _last_reconciliation(code: str) -> dict[str, Any] | None:
    """The city's last reconciliation run, or None if it has had none."""
    last_run = ReconcileRun.objects.filter(scope=code).first()
    if last_run is None:
        return None
    return {
        "started_at": last_run.started_at,
        "state": last_run.state,
        "differences": last_run.differences,
        "repaired": last_run.repaired,
        "repairs": [
            {k: r[k] for k in ("kind", "direction", "action", "count")} for r in last_run.repairs
        ],
        "duration_ms": last_run.duration_ms,
    }


def remote_file_list(*, node: str | None = None, state: str | None = None):
    rows = RemoteFile.objects.all().order_by("-updated_at")
    if node:
        rows = rows.filter(node=node)
    if state:
        rows = rows.filter(state=state)
    return rows


# -- sync lag over time ------------------------------------------------------------------------

LagScale = Literal["hour", "day"]
LAG_SETTLE = timedelta(minutes=5)  # a bucket ended this long ago is cached (see below)
LAG_SCALES: dict[str, tuple[str, int]] = {
    "hour": ("近 24 小时（每小时）", 24),
    "day": ("近 30 天（每天）", 30),
}


def percentile_cont(ordered: list[float], fraction: float) -> float:
    """What PostgreSQL's percentile_cont answers for these values (sorted ascending)."""
    position = fraction * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True, slots=True, kw_only=True)
class LagBucket:
    start: datetime  # local time: the hour, or the day's midnight
    count: int
    p50: float | None
    p95: float | None
    max: float | None


def arrival_lag_series(*, scale: LagScale = "hour", city: str = "") -> list[LagBucket]:
    """Sync lag (commit at the city → applied at the hub, `Arrival.lag_seconds`) per hour of
    the last 24 hours or per local day of the last 30: p50, p95 and max, every bucket present
    (an empty one with None).

    An arrival's `arrived_at` is when the hub applied it, so a bucket that has ended changes no
    more: the ended ones are computed once and cached until the next bucket ends (a few
    minutes' grace for transactions still open at the boundary); only the current one is
    computed on every call."""
    now = timezone.localtime()
    if scale == "hour":
        first = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=23)
        edges = [first + timedelta(hours=n) for n in range(25)]
    else:
        # local midnights (a day is not always 24 hours where there is summer time)
        edges = [
            timezone.make_aware(datetime.combine(now.date() + timedelta(days=n), time.min))
            for n in range(-29, 2)
        ]
    bounds = list(zip(edges[:-1], edges[1:], strict=False))  # the last one is the current
    settled = [b for b in bounds if b[1] <= now - LAG_SETTLE]
    key = f"hub-console:lag:{scale}:{city or 'province'}:{settled[-1][0].isoformat()}"
    found: dict[datetime, LagBucket] | None = cache.get(key)
    if found is None:
        found = _lag_buckets(settled, city=city)
        cache.set(key, found, timeout=int((bounds[-1][1] - bounds[-1][0]).total_seconds()) * 2)
    found = found | _lag_buckets(bounds[len(settled) :], city=city)
    return [
        found.get(start) or LagBucket(start=start, count=0, p50=None, p95=None, max=None)
        for start, _ in bounds
    ]


def _lag_buckets(
    bounds: list[tuple[datetime, datetime]], *, city: str
) -> dict[datetime, LagBucket]:
    """p50, p95 and max of the arrivals in each [start, end), city's alone if named.

    PostgreSQL: one statement, a LATERAL aggregate per bucket; each is an index-only range scan
    of `arrival_arrived_lag` (or `arrival_city_arrived_lag`), which carry the lag, and sorts
    only its own bucket's lags (docs/console.md has the plan). SQLite (the embedded demo): the
    lags are read and the percentiles computed here, as percentile_cont does. A chart: read
    from the replica when there is one (shared.core.replica)."""
    if not bounds:
        return {}
    connection = connections[stale_reads_alias()]
    if connection.vendor != "postgresql":
        rows = Arrival.objects.using(connection.alias).filter(
            arrived_at__gte=bounds[0][0], arrived_at__lt=bounds[-1][1]
        )
        if city:
            rows = rows.filter(library_code=city)
        lags: dict[datetime, list[float]] = {}
        for at, lag in rows.values_list("arrived_at", "lag_seconds"):
            start = next(s for s, e in bounds if s <= at < e)
            lags.setdefault(start, []).append(lag)
        result = {}
        for start, values in lags.items():
            values.sort()
            result[start] = LagBucket(
                start=start,
                count=len(values),
                p50=percentile_cont(values, 0.5),
                p95=percentile_cont(values, 0.95),
                max=values[-1],
            )
        return result
    table = connection.ops.quote_name(Arrival._meta.db_table)
    of_city = "AND library_code = %s" if city else ""
    sql = f"""
        SELECT b.start, x.n, x.p50, x.p95, x.top
        FROM unnest(%s::timestamptz[], %s::timestamptz[]) AS b(start, finish)
        CROSS JOIN LATERAL (
            SELECT count(*) AS n,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY lag_seconds) AS p50,
                   percentile_cont(0.95) WITHIN GROUP (ORDER BY lag_seconds) AS p95,
                   max(lag_seconds) AS top
            FROM {table}
            WHERE arrived_at >= b.start AND arrived_at < b.finish {of_city}
        ) x
        WHERE x.n > 0
    """  # noqa: S608  # the table's name is ours; every value is a parameter
    params: list[Any] = [[s for s, _ in bounds], [e for _, e in bounds]]
    if city:
        params.append(city)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows_found = cursor.fetchall()
    by_instant = {start: start for start, _ in bounds}
    return {
        by_instant[start]: LagBucket(start=by_instant[start], count=n, p50=p50, p95=p95, max=top)
        for start, n, p50, p95, top in rows_found
    }


# -- sector libraries' health --------------------------------------------------------------------

SECTOR_SLOW_MS = 2000.0  # an average answer slower than this in 24 h shows the library as slow
SECTOR_FAILING_RATE = 0.5  # half the calls of 24 h failed, or the last one did: failing


def sector_library_health() -> list[dict[str, Any]]:
    """Every sector library with what its calls (`SectorCall`) say of it: the last success and
    the last failure, and over 24 hours the calls, failures, error rate and latency; `health`
    is healthy / late (slow or some failures) / failing / idle (disabled, or not called)."""
    since = timezone.now() - timedelta(hours=24)
    recent: dict[int, dict[str, Any]] = {
        row["library"]: dict(row)
        for row in SectorCall.objects.filter(at__gte=since)
        .values("library")
        .annotate(
            calls=Count("id"),
            failures=Count("id", filter=Q(ok=False)),
            latency_avg=Avg("latency_ms"),
            latency_max=Max("latency_ms"),
        )
        .order_by()
    }
    rows = []
    for library in SectorLibrary.objects.order_by("code"):
        calls = SectorCall.objects.filter(library=library)
        last = calls.order_by("-at").first()
        last_success = calls.filter(ok=True).order_by("-at").values_list("at", flat=True).first()
        last_failure = calls.filter(ok=False).order_by("-at").first()
        stats: dict[str, Any] = recent.get(library.pk, {})
        n, failures = stats.get("calls", 0), stats.get("failures", 0)
        row = {
            "library": library,
            "last_call": last,
            "last_success_at": last_success,
            "last_failure": last_failure,
            "calls_24h": n,
            "failures_24h": failures,
            "error_rate_24h": failures / n if n else None,
            "latency_avg_ms": stats.get("latency_avg"),
            "latency_max_ms": stats.get("latency_max"),
        }
        health, label, reasons = _sector_health(row)
        rows.append(row | {"health": health, "health_label": label, "reasons": reasons})
    return rows


def _sector_health(row: dict[str, Any]) -> tuple[str, str, list[str]]:
    library, last, n = row["library"], row["last_call"], row["calls_24h"]
    if not library.active:
        return "idle", "已停用", ["未启用：用证查询不会询问该库"]
    rate = row["error_rate_24h"]
    if last is not None and not last.ok:
        return "failing", "异常", [f"最近一次调用失败：{last.error or '无应答'}"]
    if rate is not None and rate >= SECTOR_FAILING_RATE:
        return "failing", "异常", [f"24 小时内错误率 {rate:.0%}"]
    if not n:
        return "idle", "无调用", ["24 小时内没有调用"]
    reasons = []
    if row["failures_24h"]:
        reasons.append(f"24 小时内失败 {row['failures_24h']} 次（错误率 {rate:.0%}）")
    if (row["latency_avg_ms"] or 0) > SECTOR_SLOW_MS:
        reasons.append(f"24 小时内平均响应超过 {SECTOR_SLOW_MS / 1000:g} 秒")
    if reasons:
        return "late", "较慢" if not row["failures_24h"] else "不稳定", reasons
    return "healthy", "正常", []
