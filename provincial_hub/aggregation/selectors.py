"""Reads for the hub's operators: every city's aggregation, and the city files fetched."""

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Avg, Count, Max
from django.utils import timezone

from provincial_hub.aggregation.models import RemoteFile
from shared.conf.divisions import CITIES
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
