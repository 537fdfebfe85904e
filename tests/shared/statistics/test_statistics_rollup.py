"""The rollup keeps the monthly counters equal to a direct count of the sources, once each."""

from datetime import datetime, timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection, transaction

from shared.access.services import access_record
from shared.licenses.models import License, LicenseEvent
from shared.statistics import tasks
from shared.statistics.models import Counter, Watermark
from shared.statistics.rollup import statistics_rollup
from tests.shared.access.conftest import MATTER, grant, issue
from tests.shared.statistics.conftest import act
from tests.shared.statistics.stats_support import (
    SHANGHAI,
    counters,
    direct_access,
    direct_events,
    event_metrics,
)

pytestmark = pytest.mark.django_db

ACCESS = ["query", "verify", "compare", "access_refused"]


def _activity(issuer, consumer, issued, consumer_agency, license_type, consumer_user):
    """Three licences issued and acted on; queried, verified, compared and refused once."""
    first, second, third = issued(3)
    first = act(issuer, first, "suspend", reason="停业整顿")
    first = act(issuer, first, "resume", reason="整改完成")
    second = act(issuer, second, "amend", reason="名称变更", surface={"经营者名称": "豫中食品"})
    third = act(issuer, third, "pledge", reason="贷款", pledgee="中原银行", until="2031-01-01")
    third = act(issuer, third, "release", reason="还清")
    act(issuer, second, "revoke", reason="违法经营")
    grant(consumer_agency, license_type)
    holder = {"code": License.objects.first().holder_code, "code_type": "001"}
    purpose = {"matter_code": MATTER, "use_cause": "办理食品经营许可变更，核验原证"}
    assert (
        consumer.post("/api/v1/share/query/", {"holder": holder, **purpose}, "json").status_code
        == 200
    )
    body = {"identifier": first, **purpose}
    assert consumer.post("/api/v1/share/verify/", body, format="json").status_code == 200
    refused = {"holder": holder, "matter_code": "M0999", "use_cause": "无授权的事项"}
    assert consumer.post("/api/v1/share/query/", refused, format="json").status_code == 403
    access_record(
        user=consumer_user,
        operation="compare",
        matter_code=MATTER,
        use_cause="比对证照信息",
        licenses=[License.objects.get(identifier=first)],
        outcome="allowed",
    )


def test_counters_match_a_direct_count_after_issuing_acting_and_querying(
    issuer, consumer, issued, consumer_agency, license_type, consumer_user
):
    # given
    _activity(issuer, consumer, issued, consumer_agency, license_type, consumer_user)
    # when
    read = statistics_rollup()
    # then: every event and every counted access, under its month, city, agency, type
    assert read["license_event"] == LicenseEvent.objects.count() == 9
    assert counters(event_metrics()) == direct_events()
    assert counters(ACCESS) == direct_access()
    by_metric = {
        m: sum(n for k, n in counters().items() if k[4] == m)
        for m in (
            "issue",
            "suspend",
            "resume",
            "amend",
            "revoke",
            "pledge",
            "release",
            "query",
            "verify",
            "compare",
            "access_refused",
        )
    }
    assert by_metric == {
        "issue": 3,
        "suspend": 1,
        "resume": 1,
        "amend": 1,
        "revoke": 1,
        "pledge": 1,
        "release": 1,
        "query": 3,
        "verify": 1,
        "compare": 1,
        "access_refused": 1,
    }
    consumer_rows = {k[5:] for k in counters(["query", "verify", "compare"])}
    assert consumer_rows == {(consumer_agency.code, MATTER)}


def test_a_second_run_adds_nothing_and_a_later_one_only_what_is_new(
    issuer, consumer, issued, consumer_agency, license_type, consumer_user
):
    # given
    _activity(issuer, consumer, issued, consumer_agency, license_type, consumer_user)
    statistics_rollup()
    first = counters()
    # when: run again
    read = statistics_rollup()
    # then
    assert read == {"license_event": 0, "access": 0, "arrival": 0, "review": 0, "inspection": 0}
    assert counters() == first
    # when: more happens, and the rollup runs twice
    (ident,) = issued(1, prefix="NEW")
    act(issuer, ident, "cancel", reason="申请注销")
    assert statistics_rollup(batch_size=1)["license_event"] == 2
    statistics_rollup()
    # then: exactly the two new events were added
    assert counters(event_metrics()) == direct_events()
    assert sum(counters().values()) == sum(first.values()) + 2


def test_small_batches_give_the_same_counters(issuer, issued):
    issued(4)
    assert statistics_rollup(batch_size=3)["license_event"] == 4
    assert counters(event_metrics()) == direct_events()
    assert (
        Watermark.objects.get(source="license_event").last_key
        == LicenseEvent.objects.latest("id").id
    )


def test_an_event_at_half_past_eleven_on_30_november_counts_in_november(issuer_user, license_type):
    # given: one licence issued at 23:30 on 30 November (Beijing time), suspended 40 min later
    with time_machine.travel(datetime(2026, 11, 30, 23, 30, tzinfo=SHANGHAI), tick=False):
        lic = issue(issuer_user, license_type)
    with time_machine.travel(datetime(2026, 12, 1, 0, 10, tzinfo=SHANGHAI), tick=False):
        from shared.domain.status import Action
        from shared.licenses import services

        services.license_act(
            actor=issuer_user, identifier=lic.identifier, action=Action.suspend, reason="暂扣"
        )
    # when
    statistics_rollup()
    # then: in UTC both happened on 30 November; the months are Beijing time's
    assert {(c.month.isoformat(), c.metric, c.count) for c in Counter.objects.all()} == {
        ("2026-11-01", "issue", 1),
        ("2026-12-01", "suspend", 1),
    }


def test_a_city_counts_only_its_own_licences(issuer, issued, settings):
    # given: a provincial licence pushed down to this city, and one of the city's own
    pushed, own = issued(2)
    License.objects.filter(identifier=pushed).update(library_code="410000")
    act(issuer, pushed, "suspend", reason="暂扣")
    # when
    statistics_rollup()
    # then
    assert settings.STATISTICS_ALL_LIBRARIES is False
    assert {k[1] for k in counters()} == {"410100"}
    assert counters(event_metrics()) == direct_events(libraries={"410100"})
    assert sum(counters().values()) == 1  # the city's own issue


def test_the_command_and_the_beat_task_run_the_rollup(issued, capsys, settings):
    issued(2)
    call_command("statistics", "rollup")
    out = capsys.readouterr().out
    assert "license_event\tread=2" in out
    call_command("statistics", "status")
    assert "license_event\tat=" in capsys.readouterr().out
    issued(1, prefix="B")
    assert tasks.rollup() == {
        "license_event": 1,
        "access": 0,
        "arrival": 0,
        "review": 0,
        "inspection": 0,
    }
    entry = settings.CELERY_BEAT_SCHEDULE["statistics-rollup"]
    assert (entry["task"], entry["schedule"]) == ("statistics.rollup", 60)
    assert sum(counters().values()) == 3


def test_the_command_refuses_an_unknown_source():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="未知的数据来源"):
        call_command("statistics", "rollup", "--source", "licences")
    assert not Watermark.objects.exists()


# --- crash safety and out-of-order commits (real transactions) --------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_crash_after_the_counters_before_the_commit_moves_nothing(issuer_user, license_type):
    # given: two licences, and a database that fails the watermark's UPDATE — the last write
    # of a batch, after the counters were added
    issue(issuer_user, license_type, number="A1")
    issue(issuer_user, license_type, number="A2", holder_body="MA3X7Y8M")
    failed, written = [], []

    def fail_watermark_update(execute, sql, params, many, context):
        if sql.startswith('UPDATE "statistics_watermark"'):
            failed.append(sql)
            raise RuntimeError("数据库在提交前断开")
        if sql.startswith('INSERT INTO "statistics_counter"'):
            written.append(sql)
        return execute(sql, params, many, context)

    # when
    with connection.execute_wrapper(fail_watermark_update), pytest.raises(RuntimeError):
        statistics_rollup(sources=["license_event"])
    # then: the counters written before the failure went with the transaction
    assert len(failed) == 1 and len(written) == 1
    assert not Counter.objects.exists()
    assert not Watermark.objects.exists()
    # and the next run counts each event once
    assert statistics_rollup(sources=["license_event"]) == {"license_event": 2}
    assert counters() and counters() == direct_events()


@pytest.mark.django_db(transaction=True)
def test_an_event_committed_after_a_later_one_is_counted_once(issuer_user, license_type, settings):
    # given: licence A's event is inserted (its id drawn) but not committed yet, while
    # licence B's later event commits
    a = issue(issuer_user, license_type, number="A1")
    b = issue(issuer_user, license_type, number="B1", holder_body="MA3X7Y8M")
    statistics_rollup(sources=["license_event"])
    other = connection.copy()
    try:
        other.set_autocommit(False)
        with other.cursor() as cursor:
            cursor.execute(
                "INSERT INTO licenses_licenseevent (license_id, seq, action, from_status, "
                "to_status, version, identifier, reason, data, actor_agency_code, created_at, "
                "library_code) "
                "VALUES (%s, 2, 'suspend', 'valid', 'valid', 1, %s, '', '{}', '', now(), %s)",
                [a.pk, a.identifier, a.library_code],
            )
        from shared.domain.status import Action
        from shared.licenses import services

        services.license_act(
            actor=issuer_user, identifier=b.identifier, action=Action.suspend, reason="暂扣"
        )
        # when: the rollup runs while A's insert is still open
        statistics_rollup(sources=["license_event"])
        mark = Watermark.objects.get(source="license_event")
        # then: B counted, A's id kept as a gap
        assert mark.gaps[-1][:2] == [mark.last_key - 1, mark.last_key - 1]
        assert sum(counters(["suspend"]).values()) == 1
        other.commit()
    finally:
        other.close()
    # when: A has committed; two more runs
    statistics_rollup(sources=["license_event"])
    statistics_rollup(sources=["license_event"])
    # then: A counted once, the gap closed
    assert sum(counters(["suspend"]).values()) == 2
    assert counters() == direct_events()
    event = LicenseEvent.objects.get(license=a, seq=2).id
    assert not [
        g for g in Watermark.objects.get(source="license_event").gaps if g[0] <= event <= g[1]
    ]


@pytest.mark.django_db(transaction=True)
def test_a_gap_left_by_a_rolled_back_insert_is_given_up_after_a_while(issuer_user, license_type):
    # given: an event id drawn by a transaction that rolls back, below a committed one (the
    # ids of earlier tests' rows, never counted here, are no gap of this test's)
    issue(issuer_user, license_type, number="A1")
    statistics_rollup(sources=["license_event"])
    Watermark.objects.filter(source="license_event").update(gaps=[])
    with pytest.raises(RuntimeError), transaction.atomic():
        issue(issuer_user, license_type, number="A2", holder_body="MA3X7Y8M")
        raise RuntimeError("rolled back")
    issue(issuer_user, license_type, number="A3", holder_body="MA3X7Y8N")
    statistics_rollup(sources=["license_event"])
    assert len(Watermark.objects.get(source="license_event").gaps) == 1
    # when: still within STATISTICS_GAP_SECONDS, then past it
    statistics_rollup(sources=["license_event"])
    assert len(Watermark.objects.get(source="license_event").gaps) == 1
    with time_machine.travel(timedelta(seconds=601)):
        statistics_rollup(sources=["license_event"])
    # then
    assert Watermark.objects.get(source="license_event").gaps == []
    assert counters() == direct_events()
