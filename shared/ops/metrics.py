"""`GET /metrics` (DESIGN §8): the federation's own numbers in Prometheus' text format, read
from the database at scrape time, so every worker process answers the same and nothing is lost
on a restart (no in-process counters); beside them django-prometheus's request, database and
cache metrics (shared.conf.observability). The collectors are settings.METRICS_COLLECTORS:
this module's FederationCollector, shared.ops.work, shared.ops.deadlines.

Open to loopback (a Prometheus or node exporter beside the library) and to a bearer token
(`METRICS_TOKEN`, required in production). Behind a reverse proxy on the same host every
request looks like loopback: such a proxy must not route /metrics, or the token must be used.
"""

import hmac
import logging
import time
from collections.abc import Iterable, Iterator
from datetime import datetime

from django.conf import settings
from django.db.models import Count, Max, Min
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.module_loading import import_string
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest, multiprocess
from prometheus_client.core import (
    CollectorRegistry,
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

LOOPBACK = frozenset({"127.0.0.1", "::1"})
# Outbox rows still to deliver; acknowledged rows (the bulk of the table) are never counted.
OUTBOX_OPEN_STATES = ("pending", "sent", "failed")
OUTBOX_WAITING_STATES = ("pending", "failed")


def _gauge(name: str, doc: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=["library", *labels])


class FederationCollector:
    """One scrape: a handful of aggregate queries over indexed columns."""

    def collect(self) -> Iterator[Metric]:
        library = settings.LIBRARY_CODE
        now = timezone.now()
        yield from self._outbox(library, now)
        yield from self._deliveries(library)
        yield from self._access(library, now)
        yield from self._cursors(library, now)

    def _outbox(self, library: str, now: datetime) -> Iterator[Metric]:
        from shared.federation.models import OutboxEvent, RejectedEvent

        backlog = _gauge(
            "elicense_outbox_backlog", "Outbox events not yet acknowledged", ["stream", "state"]
        )
        oldest = _gauge(
            "elicense_outbox_oldest_pending_age_seconds",
            "Age of the oldest event waiting to be sent (pending or failed)",
            ["stream"],
        )
        dead = _gauge("elicense_outbox_dead_events", "Outbox events given up on", ["stream"])
        rows = (
            OutboxEvent.objects.filter(state__in=(*OUTBOX_OPEN_STATES, "dead"))
            .values("stream", "state")
            .annotate(n=Count("id"))
            .order_by()
        )
        for row in rows:
            family = dead if row["state"] == "dead" else backlog
            extra = [] if row["state"] == "dead" else [row["state"]]
            family.add_metric([library, row["stream"], *extra], row["n"])
        waiting = (
            OutboxEvent.objects.filter(state__in=OUTBOX_WAITING_STATES)
            .values("stream")
            .annotate(first=Min("created_at"))
            .order_by()
        )
        for first in waiting:
            age = (now - first["first"]).total_seconds()
            oldest.add_metric([library, first["stream"]], max(age, 0.0))
        rejected = _gauge(
            "elicense_federation_rejected_events",
            "Inbound events dead-lettered because they could not be applied",
            ["sender"],
        )
        for by_sender in RejectedEvent.objects.values("sender").annotate(n=Count("id")).order_by():
            rejected.add_metric([library, by_sender["sender"]], by_sender["n"])
        yield from (backlog, oldest, dead, rejected)

    def _deliveries(self, library: str) -> Iterator[Metric]:
        from shared.notifications.models import Notification
        from shared.webhooks.models import WebhookEvent

        for model, name, doc in (
            (Notification, "elicense_notifications", "Notifications by state"),
            (WebhookEvent, "elicense_webhook_events", "Webhook events by state"),
        ):
            family = _gauge(name, doc, ["state"])
            counts = dict(model.objects.values_list("state").annotate(n=Count("id")).order_by())
            for state in model.State.values:  # every state, zero included: alerts need a series
                family.add_metric([library, state], counts.get(state, 0))
            yield family

    def _access(self, library: str, now: datetime) -> Iterator[Metric]:
        from shared.access.models import AccessRecord, Checkpoint

        # The highest id, not COUNT(*): one step down the primary key's index however many
        # millions of rows the hub keeps, and it never goes down when the purge drops old rows
        # (a counter). Ids a rolled-back insert took are counted too: rare, and only ever more.
        appends = CounterMetricFamily(
            "elicense_access_records",
            "Access-log records appended (the highest record id)",
            labels=["library"],
        )
        appends.add_metric([library], AccessRecord.objects.aggregate(last=Max("id"))["last"] or 0)
        yield appends
        last = Checkpoint.objects.filter(library_code=library).aggregate(at=Max("signed_at"))
        if last["at"] is not None:
            age = _gauge(
                "elicense_access_checkpoint_age_seconds",
                "Seconds since the last signed access-log checkpoint",
                [],
            )
            age.add_metric([library], max((now - last["at"]).total_seconds(), 0.0))
            yield age

    def _cursors(self, library: str, now: datetime) -> Iterator[Metric]:
        from shared.federation.models import InboundCursor

        mark = _gauge("elicense_sync_high_water_mark", "Last sequence applied", ["sender"])
        backlog = _gauge(
            "elicense_sync_sender_backlog",
            "Events pending at the sender (its last envelope)",
            ["sender"],
        )
        age = _gauge(
            "elicense_sync_last_envelope_age_seconds",
            "Seconds since the sender's last envelope arrived",
            ["sender"],
        )
        lag = _gauge(
            "elicense_sync_lag_seconds",
            "Seconds the sender has been behind: the age of its last envelope while it reported "
            "events still pending, 0 when it reported none",
            ["sender"],
        )
        for cursor in InboundCursor.objects.order_by("sender"):
            labels = [library, cursor.sender]
            mark.add_metric(labels, cursor.high_water_mark)
            backlog.add_metric(labels, cursor.backlog)
            if cursor.last_envelope_at is not None:
                seconds = max((now - cursor.last_envelope_at).total_seconds(), 0.0)
                age.add_metric(labels, seconds)
                lag.add_metric(labels, seconds if cursor.backlog > 0 else 0.0)
        yield from (mark, backlog, age, lag)


class _Families(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families


def project_families() -> list[Metric]:
    """Every collector of settings.METRICS_COLLECTORS, each timed; one that fails (a database
    error, a bug) costs its own families only and is reported, so the others still arrive and
    an alert can say which one broke (elicense_metrics_collector_errors)."""
    library = settings.LIBRARY_CODE
    errors = _gauge(
        "elicense_metrics_collector_errors",
        "1 when the collector failed this scrape",
        ["collector"],
    )
    seconds = _gauge(
        "elicense_metrics_collector_seconds", "Time the collector took this scrape", ["collector"]
    )
    families: list[Metric] = []
    for path in settings.METRICS_COLLECTORS:
        name = path.rsplit(".", 1)[-1]
        started = time.perf_counter()
        try:
            collected = list(import_string(path)().collect())  # all of it, or none of it
            failed = 0
        except Exception:
            logger.exception("metrics collector %s failed", path)
            collected, failed = [], 1
        families.extend(collected)
        errors.add_metric([library, name], failed)
        seconds.add_metric([library, name], time.perf_counter() - started)
    return [*families, errors, seconds]


def process_registry() -> Collector:
    """django-prometheus's requests, queries and cache calls (and, in one process, the
    process's own CPU and memory): every gunicorn worker's when PROMETHEUS_MULTIPROC_DIR is
    set (shared.conf.observability), else this process's."""
    if settings.PROMETHEUS_MULTIPROC_DIR:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


def metrics_text() -> bytes:
    return generate_latest(process_registry()) + generate_latest(_Families(project_families()))


def _allowed(request: HttpRequest) -> bool:
    token = getattr(settings, "METRICS_TOKEN", "")
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer "):
        return hmac.compare_digest(header.removeprefix("Bearer ").encode(), token.encode())
    return request.META.get("REMOTE_ADDR", "") in LOOPBACK


def metrics(request: HttpRequest) -> HttpResponse:
    if not _allowed(request):
        body = {"code": "permission.denied", "message": "无权访问监控指标", "detail": {}}
        return JsonResponse(body, status=403)
    return HttpResponse(metrics_text(), content_type=CONTENT_TYPE_LATEST)
