"""At the hub a city's review requests are mirrors, changed by its `review.update` events:
counted under the city, each fact once, however many revisions arrive."""

import pytest
from django.utils import timezone

from shared.licenses.models import License
from shared.statistics.rollup import statistics_rollup
from tests.hub.reviews.test_reviews_hub_apply import event, snapshot
from tests.hub.test_hardening_federation import ZZ, City, numbered, post
from tests.shared.statistics.stats_support import counters, direct_reviews

pytestmark = pytest.mark.django_db

REVIEW = ["review_received", "review_rejected", "review_on_time", "review_late"]


@pytest.fixture
def zz_lic(issuer, issue_payload):
    response = issuer.post("/api/v1/licenses/", issue_payload(number="ZZ000001"), format="json")
    assert response.status_code == 201, response.content
    License.objects.filter(identifier=response.json()["identifier"]).update(library_code=ZZ)
    return License.objects.get(identifier=response.json()["identifier"])


def test_a_citys_mirrored_request_counts_under_the_city_once(anon, zz_lic, supervisor):
    city = City(ZZ)
    opened = snapshot(zz_lic)
    assert post(anon, city.envelope(numbered([event(opened)]))).status_code == 200
    statistics_rollup(sources=["review"])
    # when: 郑州 answers it late, and sends revision 2, then the same revision again
    answered = opened | {
        "state": "rejected",
        "answer_reason": "经核实无误",
        "answered_at": timezone.now().isoformat(),
        "answered_late": True,
        "revision": 2,
    }
    events = numbered([event(answered), event(answered)], start=2)
    assert post(anon, city.envelope(events)).status_code == 200
    statistics_rollup(sources=["review"])
    statistics_rollup(sources=["review"])
    # then
    assert counters(REVIEW) == direct_reviews()
    assert {(k[1], k[4]): n for k, n in counters(REVIEW).items()} == {
        (ZZ, "review_received"): 1,
        (ZZ, "review_rejected"): 1,
        (ZZ, "review_late"): 1,
    }
    body = supervisor.get("/api/v1/statistics/", {"by": "city"}).json()
    zz = next(r for r in body["rows"] if r["key"] == ZZ)["metrics"]
    # the received month may be the previous one (the snapshot says a day ago)
    assert (zz["review_rejected"], zz["review_late"]) == (1, 1)
