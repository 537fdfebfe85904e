"""The hub's reads that may be seconds stale go to the `replica` alias (shared.core.replica).

In tests `replica` is Django's TEST MIRROR of `default`: the same test database through a
connection of its own, so it sees only committed rows, as a streaming standby does. The tests
are transactional for that reason, and capture each connection's queries to see which one
answered.
"""

import json
import os
import subprocess
import sys
from datetime import date, timedelta

import pytest
from django.core.cache import cache
from django.db import connections
from django.db.utils import ConnectionHandler
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from provincial_hub.aggregation.selectors import arrival_lag_series
from provincial_hub.console.selectors import arrivals_chart
from shared.conf.env import database_config
from shared.federation.models import Arrival
from shared.statistics.models import Counter
from shared.statistics.selectors import ReportQuery, statistics_report
from tests.support import make_user

committed = pytest.mark.django_db(transaction=True, databases=["default", "replica"])

MONTH = date(2026, 11, 1)


@pytest.fixture
def rows():
    """Committed rows: 郑州's and 洛阳's counters of one month, and two arrivals an hour ago."""
    for city, count in (("410100", 7), ("410300", 5)):
        Counter.objects.create(
            month=MONTH,
            library_code=city,
            agency_code=f"11{city}MB0000001X",
            type_code="11100000000013338W001",
            metric="license.issue",
            count=count,
        )
    at = timezone.now() - timedelta(hours=1)
    for i, lag in enumerate((2.0, 4.0)):
        Arrival.objects.create(
            key=f"r{i}",
            library_code="410100",
            issuer_code="11410100MB0000001X",
            mode="online",
            case_completed_at=at - timedelta(seconds=lag + 1),
            committed_at=at - timedelta(seconds=lag),
            arrived_at=at,
            lag_seconds=lag,
            deadline_at=at + timedelta(days=1),
        )
    return make_user("replica_admin", None, role="library_admin")


def tables(captured: CaptureQueriesContext, *names: str) -> set[str]:
    """Which of `names` the captured statements read."""
    return {name for name in names for q in captured.captured_queries if name in q["sql"]}


def report(user):
    return statistics_report(user=user, query=ReportQuery(month=MONTH, by="city", filters={}))


@committed
def test_statistics_and_console_charts_read_the_replica(rows, settings):
    # given a hub configured with a replica
    settings.STALE_READS_DATABASE = "replica"
    cache.clear()  # the lag chart caches ended hours
    # when the statistics report and the console's two charts are read
    with (
        CaptureQueriesContext(connections["replica"]) as replica,
        CaptureQueriesContext(connections["default"]) as default,
    ):
        found = report(rows)
        chart = arrivals_chart(days=2)
        lag = arrival_lag_series(scale="hour", city="410100")
    # then the counters, watermark and arrivals came from the replica, none from the primary
    assert {r.key: r.metrics["license.issue"] for r in found.rows} == {"410100": 7, "410300": 5}
    assert found.totals["license.issue"] == 12
    assert sum(bar.value for bar in chart.bars) == 2
    assert sum(b.count for b in lag) == 2
    read = ("statistics_counter", "statistics_watermark", "federation_arrival")
    assert tables(replica, *read) == set(read)
    assert tables(default, *read) == set()


@committed
def test_without_a_replica_the_same_reads_stay_on_default(rows):
    # given the test settings' default: STALE_READS_DATABASE = "default"
    with (
        CaptureQueriesContext(connections["replica"]) as replica,
        CaptureQueriesContext(connections["default"]) as default,
    ):
        found = report(rows)
        arrivals_chart(days=2)
    # then
    assert found.totals["license.issue"] == 12
    assert replica.captured_queries == []
    assert tables(default, "statistics_counter", "federation_arrival") == {
        "statistics_counter",
        "federation_arrival",
    }


@committed
def test_a_libpq_multi_host_url_connects_to_the_host_that_accepts_writes(settings):
    # given DATABASE_URL naming a host where nothing listens (port 1) before the real server,
    # as the hub names a primary and its standby
    name = settings.DATABASES["default"]["NAME"]
    url = f"postgresql://postgres@127.0.0.1:1,127.0.0.1:5432/{name}?target_session_attrs=read-write"
    config = database_config("unused", url)
    assert (config["HOST"], config["PORT"]) == ("127.0.0.1,127.0.0.1", "1,5432")
    assert config["OPTIONS"] == {"target_session_attrs": "read-write"}
    handler = ConnectionHandler({"default": config})
    try:
        # when Django connects through it
        with handler["default"].cursor() as cursor:
            cursor.execute("SELECT inet_server_port(), pg_is_in_recovery()")
            # then libpq skipped the dead host and reached the writable one
            assert cursor.fetchone() == (5432, False)
    finally:
        handler.close_all()


def test_database_replica_url_adds_the_alias_and_points_stale_reads_at_it(tmp_path):
    # given the hub's deployment settings read with and without DATABASE_REPLICA_URL
    show = (
        "import json; from django.conf import settings as s; "
        "print(json.dumps([sorted(s.DATABASES), s.STALE_READS_DATABASE, "
        "s.DATABASES.get('replica', {}).get('HOST'), "
        "s.DATABASES.get('replica', {}).get('TEST')]))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "TEST_"))}
    env |= {
        "DJANGO_SETTINGS_MODULE": "provincial_hub.settings",
        "DJANGO_ENV": "local",
        "DATABASE_URL": "postgres://postgres@10.0.0.11:5432/elicense_hub",
        "VAR_DIR": str(tmp_path),
    }

    def settings_with(**extra):
        result = subprocess.run(
            [sys.executable, "-c", show],
            env=env | extra,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        return json.loads(result.stdout.strip().splitlines()[-1])

    # then
    assert settings_with(
        DATABASE_REPLICA_URL="postgres://elicense_ro@10.0.0.12:5432/elicense_hub"
    ) == [["default", "replica"], "replica", "10.0.0.12", {"MIRROR": "default"}]
    assert settings_with() == [["default"], "default", None, None]
