"""GET /metrics beyond the outbox: django-prometheus's series, reconciliation, signing, the
Celery queues, deadlines at risk and a collector that fails. Every number is the rows (or the
broker's messages) the test made, exactly."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from kombu import Connection, Exchange, Producer, Queue
from prometheus_client.core import GaugeMetricFamily

from shared.access.models import AccessRecord
from shared.calendars.selectors import workday_calendar
from shared.federation.models import Peer, ReconcileRun
from shared.files.models import LicenseFile
from shared.reviews.models import ReviewRequest
from tests.shared.inspections.conftest import issue
from tests.shared.ops.test_metrics import lib, scrape

pytestmark = pytest.mark.django_db
HUB = "410000"


class BrokenCollector:
    """Fails half way: what it yielded before failing must not be exported either."""

    def collect(self):
        family = GaugeMetricFamily("elicense_half_done", "never exported", labels=["library"])
        family.add_metric([settings.LIBRARY_CODE], 1)
        yield family
        raise RuntimeError("boom")


def value(m: dict, name: str, **labels) -> float:
    return m.get((name, lib(**labels)), 0.0)


def test_django_prometheus_counts_requests_queries_and_cache_calls(client):
    # given
    before = scrape(client)
    responses = ("django_http_responses_total_by_status_view_method_total", "healthz")

    # when: two requests to one view, one cache read
    assert client.get("/healthz").status_code == 200
    assert client.get("/healthz").status_code == 200
    cache.get("metrics-test-key")
    after = scrape(client)

    # then: the process-wide series sit beside the project's (one scrape, one text)
    def series(m, name, **labels):
        return m.get((name, tuple(sorted(labels.items()))), 0.0)

    ok = {"status": "200", "view": responses[1], "method": "GET"}
    assert series(after, responses[0], **ok) - series(before, responses[0], **ok) == 2
    get = {"backend": "locmem"}
    assert series(after, "django_cache_get_total", **get) - series(
        before, "django_cache_get_total", **get
    ) == pytest.approx(1)
    queries = {"alias": "default", "vendor": "postgresql"}
    assert series(after, "django_db_execute_total", **queries) > series(
        before, "django_db_execute_total", **queries
    )
    assert ("elicense_notifications", lib(state="dead")) in after


def peer(code: str) -> Peer:
    return Peer.objects.create(code=code, kid=f"k{code}", public_pem="p")


def run(peer_code: str, state: str, *, differences: int = 0, repairs=(), minutes_ago: int = 0):
    row = ReconcileRun.objects.create(
        scope=settings.LIBRARY_CODE,
        peer=peer_code,
        state=state,
        differences=differences,
        repairs=list(repairs),
    )
    if state != "running":
        row.finished_at = timezone.now() - timedelta(minutes=minutes_ago)
        row.save(update_fields=["finished_at"])
    return row


def repair(kind: str, direction: str, count: int) -> dict:
    return {"kind": kind, "direction": direction, "action": "resend", "count": count, "keys": []}


def test_reconciliation_shows_the_last_completed_run_with_the_hub(client):
    # given: an old run, the last completed one, then a failed and a running one
    peer(HUB)
    run(HUB, "done", differences=9, repairs=[repair("license", "up", 9)], minutes_ago=60)
    run(
        HUB,
        "done",
        differences=3,
        repairs=[repair("license", "up", 2), repair("license", "up", 1), repair("file", "down", 4)],
        minutes_ago=20,
    )
    run(HUB, "failed", minutes_ago=5)
    run(HUB, "running")

    # when
    m = scrape(client)

    # then
    here = settings.LIBRARY_CODE
    assert value(m, "elicense_reconcile_differences", peer=HUB, scope=here) == 3
    up = {"peer": HUB, "scope": here, "kind": "license", "direction": "up"}
    assert value(m, "elicense_reconcile_repaired", **up) == 3
    down = {"peer": HUB, "scope": here, "kind": "file", "direction": "down"}
    assert value(m, "elicense_reconcile_repaired", **down) == 4
    age = value(m, "elicense_reconcile_last_run_age_seconds", peer=HUB, scope=here)
    assert 20 * 60 <= age < 21 * 60
    assert value(m, "elicense_reconcile_last_run_failed", peer=HUB) == 1


def test_reconciliation_before_the_first_run_and_after_a_clean_one(client):
    # given: no peer to reconcile with: no series
    here = settings.LIBRARY_CODE
    assert not [k for k in scrape(client) if k[0].startswith("elicense_reconcile_")]

    # when: the hub registered three hours ago, never reconciled with
    Peer.objects.filter(pk=peer(HUB).pk).update(created_at=timezone.now() - timedelta(hours=3))
    m = scrape(client)

    # then: the age runs from the registration (ReconciliationNotRun fires), nothing else
    age = value(m, "elicense_reconcile_last_run_age_seconds", peer=HUB, scope=here)
    assert 3 * 3600 <= age < 3 * 3600 + 60
    assert [k[0] for k in m if k[0].startswith("elicense_reconcile_")] == [
        "elicense_reconcile_last_run_age_seconds"
    ]

    # when: a run found nothing
    run(HUB, "done", differences=0, minutes_ago=1)
    m = scrape(client)

    # then
    assert value(m, "elicense_reconcile_differences", peer=HUB, scope=here) == 0
    assert 60 <= value(m, "elicense_reconcile_last_run_age_seconds", peer=HUB, scope=here) < 120
    assert value(m, "elicense_reconcile_last_run_failed", peer=HUB) == 0
    assert not [k for k in m if k[0] == "elicense_reconcile_repaired"]


def test_signing_counts_recent_pending_and_failed_files(client, issuer_user, license_type):
    # given: a licence (its issue wrote its file row, pending) and files in every state
    lic = issue(issuer_user, license_type, number="JY1410100METRICS1")
    now = timezone.now()
    LicenseFile.objects.filter(license=lic).update(created_at=now - timedelta(minutes=7))

    def file(n: int, state: str, rendered_minutes_ago: int | None) -> None:
        row = LicenseFile.objects.create(
            license=lic, identifier=f"metrics-{n}", version=1, variant="original", state=state
        )
        rendered = None
        if rendered_minutes_ago is not None:
            rendered = now - timedelta(minutes=rendered_minutes_ago)
        LicenseFile.objects.filter(pk=row.pk).update(rendered_at=rendered)

    for n, minutes in enumerate((0, 1, 4)):
        file(n, "ready", minutes)  # within five minutes
    file(10, "ready", 6)  # signed earlier (its row touched since: updated_at is now)
    file(11, "failed", None)
    file(12, "pending", None)

    # when
    m = scrape(client)

    # then
    assert value(m, "elicense_files_signed_5m") == 3
    assert value(m, "elicense_files", state="pending") == 2
    assert value(m, "elicense_files", state="failed") == 1
    oldest = value(m, "elicense_files_oldest_pending_age_seconds")
    assert 7 * 60 <= oldest < 8 * 60


def broker() -> Connection:
    return Connection(
        settings.CELERY_BROKER_URL, transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS
    )


def publish(queue: str, count: int) -> None:
    with broker() as connection:
        producer = Producer(connection)
        for n in range(count):
            producer.publish(
                {"n": n},
                exchange=Exchange(queue, type="direct"),
                routing_key=queue,
                declare=[Queue(queue, Exchange(queue, type="direct"), routing_key=queue)],
            )


def purge(queue: str) -> None:
    with broker() as connection:
        Queue(queue)(connection.channel()).purge()


def test_queue_lengths_are_the_brokers_messages(client):
    # given: three tasks waiting for the signer, none for the default queue
    purge("signing")
    purge("default")
    try:
        publish("signing", 3)

        # when
        m = scrape(client)

        # then
        assert value(m, "elicense_celery_queue_length", queue="signing") == 3
        assert value(m, "elicense_celery_queue_length", queue="default") == 0
    finally:
        purge("signing")
    assert value(scrape(client), "elicense_celery_queue_length", queue="signing") == 0


def test_queue_lengths_from_the_filesystem_broker(client, settings, tmp_path):
    # given: the development broker (message files in a folder)
    folder = tmp_path / "in"
    folder.mkdir()
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
        "control_folder": str(tmp_path),
    }
    publish("signing", 2)

    # when / then
    m = scrape(client)
    assert value(m, "elicense_celery_queue_length", queue="signing") == 2
    assert value(m, "elicense_celery_queue_length", queue="default") == 0


def test_an_unreachable_broker_is_minus_one_and_the_scrape_goes_on(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    m = scrape(client)
    assert value(m, "elicense_celery_queue_length", queue="signing") == -1
    assert value(m, "elicense_celery_queue_length", queue="default") == -1
    assert value(m, "elicense_metrics_collector_errors", collector="SigningCollector") == 0


def review(lic, *, deadline, state="open", library_code=None) -> ReviewRequest:
    return ReviewRequest.objects.create(
        library_code=library_code or settings.LIBRARY_CODE,
        license=lic,
        identifier=lic.identifier,
        issuer=lic.issuer,
        license_type=lic.license_type,
        requester_kind="agency",
        reason="照面信息有误",
        received_at=timezone.now(),
        deadline=deadline,
        state=state,
    )


def test_review_deadlines_due_by_the_next_working_day_and_overdue(
    client, issuer_user, license_type
):
    # given
    lic = issue(issuer_user, license_type, number="JY1410100METRICS2")
    calendar = workday_calendar()
    today = timezone.localdate()
    next_workday = calendar.add_workdays(today, 1).day
    review(lic, deadline=today)  # at risk
    review(lic, deadline=next_workday)  # at risk
    review(lic, deadline=calendar.add_workdays(today, 2).day)  # not yet
    review(lic, deadline=today - timedelta(days=1))  # overdue
    review(lic, deadline=today - timedelta(days=3))  # overdue
    review(lic, deadline=today, state="confirmed")  # answered: not counted
    review(lic, deadline=today - timedelta(days=1), state="rejected")

    # when
    m = scrape(client)

    # then
    here = settings.LIBRARY_CODE
    assert value(m, "elicense_deadlines_at_risk", kind="review", owner=here) == 2
    assert value(m, "elicense_deadlines_overdue", kind="review", owner=here) == 2
    # the city's copies of its notices: a series, zero
    assert ("elicense_deadlines_at_risk", lib(kind="notice", owner=here)) in m


def test_a_failing_collector_is_reported_and_the_others_still_arrive(client, settings):
    settings.METRICS_COLLECTORS = [
        *settings.METRICS_COLLECTORS,
        "tests.shared.ops.test_metrics_work.BrokenCollector",
    ]
    m = scrape(client)
    assert value(m, "elicense_metrics_collector_errors", collector="BrokenCollector") == 1
    assert not [key for key in m if key[0] == "elicense_half_done"]
    assert value(m, "elicense_metrics_collector_errors", collector="FederationCollector") == 0
    assert value(m, "elicense_metrics_collector_seconds", collector="DeadlineCollector") > 0
    assert ("elicense_notifications", lib(state="dead")) in m


def test_access_records_total_is_the_highest_id_and_grows_by_each_append(client):
    # given
    before = value(scrape(client), "elicense_access_records_total")

    # when
    rows = [
        AccessRecord.objects.create(
            library_code=settings.LIBRARY_CODE,
            occurred_at=timezone.now(),
            operation="query",
            outcome="ok",
        )
        for _ in range(3)
    ]

    # then
    after = value(scrape(client), "elicense_access_records_total")
    assert after == rows[-1].pk == rows[0].pk + 2
    assert before < rows[0].pk
