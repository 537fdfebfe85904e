"""At the hub the counters cover the province: every city's licences under their own city, the
arrivals and late arrivals of the cities (art. 14, 31), read by the supervisor."""

import pytest
from django.utils import timezone

from shared.federation.models import Arrival
from shared.statistics.rollup import statistics_rollup
from tests.hub.statistics.conftest import LY, long_ago, luoyang_licences, send
from tests.shared.statistics.conftest import act
from tests.shared.statistics.stats_support import (
    counters,
    direct_arrivals,
    direct_events,
    event_metrics,
)
from tests.support import make_user, token_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def province(anon, luoyang, issuer, issued, issue_payload):
    """The hub's own two licences (one suspended), and two of 洛阳's arriving: one online on
    time, one offline whose case completed 30 days ago (late); a third, bulk and late, is
    returned unsent."""
    own = issued(2)
    act(issuer, own[0], "suspend", reason="暂扣")
    events = luoyang_licences(
        luoyang,
        issue_payload,
        [
            {"case_completed_at": timezone.now().isoformat()},
            {"mode": "offline", "case_completed_at": long_ago()},
            {"mode": "bulk", "case_completed_at": long_ago()},
        ],
    )
    send(anon, luoyang, events[:2])
    statistics_rollup()
    return events[2]


def test_every_citys_licences_count_under_their_city(province, settings):
    assert settings.STATISTICS_ALL_LIBRARIES is True
    assert counters(event_metrics()) == direct_events()
    assert {k[1] for k in counters(event_metrics())} == {"410000", LY}
    assert counters(["arrival", "arrival_late"]) == direct_arrivals()
    assert Arrival.objects.filter(late=True).count() == 1


def test_the_supervisor_reads_the_province_by_city(province, supervisor):
    month = f"{timezone.localdate():%Y-%m}"
    body = supervisor.get("/api/v1/statistics/", {"month": month, "by": "city"}).json()
    rows = {r["key"]: (r["name"], r["metrics"]) for r in body["rows"]}
    assert set(rows) == {"410000", LY}
    name, ly = rows[LY]
    assert (name, ly["issue"], ly["arrival"], ly["arrival_late"]) == ("洛阳市", 2, 2, 1)
    hub_name, hub = rows["410000"]
    assert (hub_name, hub["issue"], hub["suspend"], hub["arrival"]) == ("河南省", 2, 1, 0)
    assert body["library_code"] == "410000"


def test_a_citys_agency_admin_at_the_hub_sees_its_own_agency(province, luoyang, issuer_agency):
    client = token_client(make_user("ly_admin", luoyang["agency"], role="agency_admin"))
    body = client.get("/api/v1/statistics/", {"by": "agency"}).json()
    assert [(r["key"], r["metrics"]["issue"]) for r in body["rows"]] == [
        (luoyang["agency"].code, 2)
    ]
    assert body["scope"] == "agency"


def test_a_second_envelope_adds_only_its_own_arrivals(province, anon, luoyang):
    # given: the counters after the first envelope
    before = counters(["arrival", "arrival_late"])
    # when: a third licence of 洛阳 arrives late; the rollup runs twice
    send(anon, luoyang, [province])
    statistics_rollup()
    statistics_rollup()
    # then
    after = counters(["arrival", "arrival_late"])
    assert sum(after.values()) == sum(before.values()) + 2
    assert after == direct_arrivals()
