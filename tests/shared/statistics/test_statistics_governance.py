"""Review requests and annual inspections are changed in place: each fact of one (received,
answered on time or late, overdue; submitted, approved, refused) is counted once, in its own
month, however often the rollup reads the row again."""

from datetime import datetime

import pytest
import time_machine

from shared.inspections.services import inspection_approve, inspection_refuse, inspection_submit
from shared.reviews.deadlines import review_flag_overdue
from shared.reviews.models import ReviewRequest
from shared.reviews.services import review_answer, review_create
from shared.statistics.models import Fact, Watermark
from shared.statistics.rollup import statistics_rollup
from shared.statistics.sources import source_names
from tests.shared.access.conftest import MATTER, grant, issue
from tests.shared.statistics.stats_support import (
    SHANGHAI,
    counters,
    direct_inspections,
    direct_reviews,
)
from tests.support import make_type

pytestmark = pytest.mark.django_db

REVIEW = [
    "review_received",
    "review_confirmed",
    "review_corrected",
    "review_rejected",
    "review_on_time",
    "review_late",
    "review_overdue",
]
INSPECTION = [
    "inspection_submitted",
    "inspection_approved",
    "inspection_refused",
    "inspection_late",
]
PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n"


def at(year, month, day, hour=10):
    return time_machine.travel(datetime(year, month, day, hour, tzinfo=SHANGHAI), tick=False)


def test_both_sources_are_read_where_their_models_are():
    assert source_names() == ["license_event", "access", "arrival", "review", "inspection"]


def test_reviews_are_counted_once_per_fact_in_their_own_month(
    issuer_user, license_type, consumer_agency, consumer_user
):
    # given: two requests received on Friday 27 November 2026 (deadline: 4 December)
    with at(2026, 11, 27):
        grant(consumer_agency, license_type)
        first = issue(issuer_user, license_type, number="R1")
        second = issue(issuer_user, license_type, number="R2", holder_body="MA3X7Y8M")
        one, two = (
            review_create(
                actor=consumer_user,
                identifier=lic.identifier,
                reason="经营项目有误，请核实",
                fields=["经营项目"],
                matter_code=MATTER,
                use_cause="核验原证",
            )
            for lic in (first, second)
        )
    # when: the first is confirmed on time in November; the rollup runs
    with at(2026, 11, 30):
        review_answer(actor=issuer_user, review_id=one.pk, outcome="confirmed")
        statistics_rollup()
    # then
    assert counters(REVIEW) == direct_reviews()
    assert {(k[0].month, k[4]): n for k, n in counters(REVIEW).items()} == {
        (11, "review_received"): 2,
        (11, "review_confirmed"): 1,
        (11, "review_on_time"): 1,
    }
    # when: the second is flagged overdue, then rejected late, in December; the rollup runs
    # after each change and once more
    with at(2026, 12, 7):
        review_flag_overdue(review_id=two.pk)
        statistics_rollup()
        review_answer(actor=issuer_user, review_id=two.pk, outcome="rejected", reason="数据无误")
        statistics_rollup()
        statistics_rollup()
    # then: each fact once, in its month; the consumer and matter named
    assert ReviewRequest.objects.get(pk=two.pk).answered_late is True
    assert counters(REVIEW) == direct_reviews()
    assert {(k[0].month, k[4]): n for k, n in counters(REVIEW).items()} == {
        (11, "review_received"): 2,
        (11, "review_confirmed"): 1,
        (11, "review_on_time"): 1,
        (12, "review_overdue"): 1,
        (12, "review_rejected"): 1,
        (12, "review_late"): 1,
    }
    assert {k[5:] for k in counters(REVIEW)} == {(consumer_agency.code, MATTER)}
    assert set(Fact.objects.filter(source="review").values_list("mask", flat=True)) == {3, 7}


def test_a_review_read_again_within_the_overlap_adds_nothing(
    issuer_user, license_type, consumer_agency, consumer_user
):
    grant(consumer_agency, license_type)
    lic = issue(issuer_user, license_type, number="R1")
    review_create(
        actor=consumer_user,
        identifier=lic.identifier,
        reason="经营项目有误，请核实",
        fields=["经营项目"],
        matter_code=MATTER,
        use_cause="核验原证",
    )
    assert statistics_rollup(sources=["review"]) == {"review": 1}
    # the row is inside STATISTICS_OVERLAP_SECONDS: read again, counted once
    assert statistics_rollup(sources=["review"]) == {"review": 1}
    assert Watermark.objects.get(source="review").rows_read == 2
    assert counters(REVIEW) == direct_reviews() == {next(iter(direct_reviews())): 1}


def test_inspections_submitted_approved_late_and_refused(issuer_user):
    # given: a type inspected from 1 January to 30 June, three licences issued in 2025
    kind = make_type(
        issuer_user,
        seq=6,
        requires_review=False,
        name="特种行业许可证",
        annual_inspection=True,
        inspection_window_start="01-01",
        inspection_window_end="06-30",
    )
    with at(2025, 11, 3):
        lics = [
            issue(issuer_user, kind, number=f"T{i}", holder_body=f"MA3X7Y8{i}") for i in range(3)
        ]
    # when: submitted in March; one approved in March, one refused in March, one approved
    # late in July (after the window closed)
    with at(2026, 3, 2):
        submitted = [
            inspection_submit(
                actor=issuer_user, identifier=lic.identifier, files=[("执照.pdf", PDF)]
            )
            for lic in lics
        ]
    with at(2026, 3, 5):
        inspection_approve(actor=issuer_user, inspection_id=submitted[0].pk)
        inspection_refuse(actor=issuer_user, inspection_id=submitted[1].pk, reason="材料不全")
        statistics_rollup()
    with at(2026, 7, 6):
        inspection_approve(actor=issuer_user, inspection_id=submitted[2].pk)
        statistics_rollup()
        statistics_rollup()
    # then
    assert counters(INSPECTION) == direct_inspections()
    assert {(k[0].month, k[4]): n for k, n in counters(INSPECTION).items()} == {
        (3, "inspection_submitted"): 3,
        (3, "inspection_approved"): 1,
        (3, "inspection_refused"): 1,
        (7, "inspection_approved"): 1,
        (7, "inspection_late"): 1,
    }
    # and the licences' `inspect` events count with the other lifecycle events
    assert sum(n for k, n in counters(["inspect"]).items()) == 2


def test_a_city_does_not_count_reviews_of_other_libraries(
    issuer_user, license_type, consumer_agency, consumer_user
):
    grant(consumer_agency, license_type)
    lic = issue(issuer_user, license_type, number="R1")
    review_create(
        actor=consumer_user,
        identifier=lic.identifier,
        reason="经营项目有误，请核实",
        fields=["经营项目"],
        matter_code=MATTER,
        use_cause="核验原证",
    )
    ReviewRequest.objects.update(library_code="410000")  # as a provincial licence's would be
    statistics_rollup(sources=["review"])
    assert counters(REVIEW) == {}
    assert not Fact.objects.exists()
