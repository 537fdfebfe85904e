"""Reconciliation and signing for /metrics: what the last reconciliation with each peer found
and repaired, how fast licence files are being signed and how much waits for the signer.

All of it is read at scrape time (no in-process counters, so every worker answers the same):
the latest run per peer is found walking the primary key backwards (runs are rows appended in
time order, and every peer the beat reconciles has a recent one); the signing numbers read
the files index on (state, updated_at); the queue lengths ask the broker.
"""

from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Min
from django.utils import timezone
from kombu import Connection
from prometheus_client.core import GaugeMetricFamily, Metric

from shared.federation.models import Peer, ReconcileRun
from shared.federation.roles import role
from shared.files.models import LicenseFile

State = ReconcileRun.State

# The signing rate is the files signed in this window (per second: divide by it).
SIGNED_WINDOW = timedelta(minutes=5)


def _gauge(name: str, doc: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=["library", *labels])


class ReconciliationCollector:
    """The latest finished reconciliation with each peer the beat reconciles."""

    def collect(self) -> Iterator[Metric]:
        library = settings.LIBRARY_CODE
        now = timezone.now()
        differences = _gauge(
            "elicense_reconcile_differences",
            "Differences the last completed reconciliation with the peer found",
            ["peer", "scope"],
        )
        repaired = _gauge(
            "elicense_reconcile_repaired",
            "Records the last completed reconciliation repaired or flagged, by kind and "
            "direction (up: the hub's copy from the city; down: the city's copy from the hub)",
            ["peer", "scope", "kind", "direction"],
        )
        age = _gauge(
            "elicense_reconcile_last_run_age_seconds",
            "Seconds since the last completed reconciliation with the peer finished, or since "
            "the peer was registered while none has completed",
            ["peer", "scope"],
        )
        failed = _gauge(
            "elicense_reconcile_last_run_failed",
            "1 when the latest reconciliation with the peer failed, else 0",
            ["peer"],
        )
        tier = role()
        for peer in Peer.objects.filter(code__in=tier.reconcile_peers()).order_by("code"):
            latest, done = _last_runs(peer.code)
            if latest is not None:
                failed.add_metric([library, peer.code], int(latest.state == State.FAILED))
            if done is None:
                # never reconciled: the age runs from the peer's registration, so that a peer
                # the beat never manages to reconcile raises ReconciliationNotRun too
                labels = [library, peer.code, tier.reconcile_scope(peer)]
                age.add_metric(labels, _age(now, peer.created_at))
                continue
            labels = [library, peer.code, done.scope]
            differences.add_metric(labels, done.differences)
            age.add_metric(labels, _age(now, done.finished_at or done.started_at))
            for (kind, direction), count in sorted(_repairs(done.repairs).items()):
                repaired.add_metric([*labels, kind, direction], count)
        yield from (differences, repaired, age, failed)


def _last_runs(peer: str) -> tuple[ReconcileRun | None, ReconcileRun | None]:
    """The latest ended run with `peer` and the latest completed one (often the same row).
    Walks the primary key backwards: a peer the beat reconciles has a run among the newest
    rows; one with none costs a scan of the table (elicense_metrics_collector_seconds)."""
    ended = ReconcileRun.objects.filter(peer=peer).exclude(state=State.RUNNING).order_by("-pk")
    latest = ended.first()
    if latest is None or latest.state == State.DONE:
        return latest, latest
    return latest, ended.filter(state=State.DONE).first()


def _repairs(entries: list[dict]) -> Counter[tuple[str, str]]:
    totals: Counter[tuple[str, str]] = Counter()
    for entry in entries:
        totals[(str(entry["kind"]), str(entry["direction"]))] += int(entry["count"])
    return totals


class SigningCollector:
    """Licence files signed recently, waiting or failed, and the Celery queues' lengths."""

    def collect(self) -> Iterator[Metric]:
        library = settings.LIBRARY_CODE
        now = timezone.now()
        since = now - SIGNED_WINDOW
        signed = _gauge(
            "elicense_files_signed_5m",
            "Licence files signed in the last 5 minutes (the signing rate × 300 s)",
            [],
        )
        # A signed file's updated_at is at least its rendered_at: the range on the indexed
        # column bounds the rows, the second condition makes the count exact.
        signed.add_metric(
            [library],
            LicenseFile.objects.filter(
                state=LicenseFile.State.READY, updated_at__gte=since, rendered_at__gte=since
            ).count(),
        )
        waiting = _gauge("elicense_files", "Licence files not signed: pending or failed", ["state"])
        for state in (LicenseFile.State.PENDING, LicenseFile.State.FAILED):
            waiting.add_metric([library, state], LicenseFile.objects.filter(state=state).count())
        oldest = _gauge(
            "elicense_files_oldest_pending_age_seconds",
            "Age of the oldest licence file still waiting to be signed",
            [],
        )
        first = LicenseFile.objects.filter(state=LicenseFile.State.PENDING).aggregate(
            at=Min("created_at")
        )["at"]
        if first is not None:
            oldest.add_metric([library], _age(now, first))
        yield from (signed, waiting, oldest, self._queues(library))

    def _queues(self, library: str) -> GaugeMetricFamily:
        family = _gauge(
            "elicense_celery_queue_length",
            "Tasks waiting in the broker's queue (-1: the broker did not answer in time)",
            ["queue"],
        )
        names = [queue.name for queue in settings.CELERY_TASK_QUEUES]
        try:
            lengths = queue_lengths(names)
        except Exception:  # noqa: BLE001 - an unreachable broker is a value, not a failed scrape
            lengths = dict.fromkeys(names, -1)
        for name in names:
            family.add_metric([library, name], lengths[name])
        return family


def _age(now: datetime, then: datetime) -> float:
    return max((now - then).total_seconds(), 0.0)


def queue_lengths(names: list[str]) -> dict[str, int]:
    """Messages waiting in each queue, through kombu as the workers connect: LLEN of the list
    (and its priority lists) on Redis, a passive declare's message count on RabbitMQ (never an
    active one: it would clash with the queue's own arguments, quorum or not), the message
    files of the filesystem transport. A queue the broker does not know holds nothing (Redis
    drops an empty list)."""
    timeout = settings.METRICS_BROKER_TIMEOUT
    options = {
        **getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}),
        "socket_connect_timeout": timeout,
        "socket_timeout": timeout,
    }
    lengths: dict[str, int] = {}
    with Connection(
        settings.CELERY_BROKER_URL, connect_timeout=timeout, transport_options=options
    ) as connection:
        connection.ensure_connection(max_retries=0, timeout=timeout)
        for name in names:
            # a fresh channel per queue: RabbitMQ closes the channel a passive declare failed on
            channel = connection.channel()
            try:
                lengths[name] = channel.queue_declare(queue=name, passive=True).message_count
            except connection.channel_errors:
                lengths[name] = 0
            finally:
                channel.close()
    return lengths
