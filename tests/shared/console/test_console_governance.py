"""The issuing agency's governance screens over the same services as the API: the review inbox
(deadline, 暂定, days left, overdue, reminders, attachments, the three answers), the
inspection inbox (approve / refuse), who used its licences (with the CSV link), and the
bulk-analysis approvals; a consumer is refused the inboxes, another agency's request is 404,
and every form needs its CSRF token."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from shared.access.bulk import bulk_request_create
from shared.access.models import AccessRecord, BulkRequest
from shared.inspections.models import Inspection
from shared.inspections.services import inspection_submit
from shared.licenses.models import License
from shared.reviews.deadlines import review_flag_overdue
from shared.reviews.models import ReviewReminder, ReviewRequest
from shared.reviews.services import review_create
from tests.console_support import console_client
from tests.shared.access.conftest import MATTER, grant, holder_code, issue, query_body  # noqa: F401
from tests.shared.inspections.conftest import PDF, at, inspection_type  # noqa: F401
from tests.shared.inspections.conftest import issue as issue_inspected

pytestmark = pytest.mark.django_db
REASON = "照面上的经营项目与营业执照不一致，请核实更正"
CAUSE = "办理食品经营许可变更，核验原证"


@pytest.fixture
def review(consumer_user, consumer_agency, license_type, issuer_user):
    grant(consumer_agency, license_type)
    lic = issue(issuer_user, license_type)
    return review_create(
        actor=consumer_user,
        identifier=lic.identifier,
        reason=REASON,
        fields=["经营项目", "holder_name"],
        matter_code=MATTER,
        use_cause=CAUSE,
        attachments=[("营业执照.pdf", PDF)],
    )


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.content.decode()[:300]
    return response.content.decode()


# --- reviews ---------------------------------------------------------------------------------


def test_the_inbox_shows_deadline_days_left_reminders_and_the_overdue_flag(issuer_console, review):
    ReviewReminder.objects.create(review=review, ordinal=1, days_left=2, created_at=timezone.now())
    ReviewRequest.objects.filter(pk=review.pk).update(deadline_provisional=True)
    html = page(issuer_console, "/console/reviews/")
    assert review.identifier in html and review.deadline.strftime("%Y-%m-%d") in html
    assert "暂定" in html and "剩 2 日" in html
    assert '<span data-testid="open-count">1</span>' in html
    # past the deadline, the beat's flag shows, and the filter finds it
    ReviewRequest.objects.filter(pk=review.pk).update(deadline=date.today() - timedelta(days=3))
    review_flag_overdue(review_id=review.pk)
    html = page(issuer_console, "/console/reviews/?overdue=1")
    assert 'data-testid="overdue"' in html and review.identifier in html
    assert review.identifier not in page(issuer_console, "/console/reviews/?state=rejected")


def test_the_detail_shows_fields_reason_and_attachments_the_issuer_downloads(
    issuer_console, review
):
    html = page(issuer_console, f"/console/reviews/{review.pk}/")
    assert "经营项目" in html and "持证主体名称" in html and REASON in html
    attachment = review.attachments.get()
    link = f"/api/v1/reviews/{review.pk}/attachments/{attachment.pk}/"
    assert link in html
    download = issuer_console.get(link)
    assert download.status_code == 200 and download.content == PDF


def test_confirmed_then_shown_and_a_second_answer_is_refused(issuer_console, review):
    url = f"/console/reviews/{review.pk}/"
    response = issuer_console.post(url, {"outcome": "confirmed", "reason": ""})
    assert response.status_code == 302
    review.refresh_from_db()
    assert review.state == "confirmed" and review.answered_by.username == "issuer_1"
    html = page(issuer_console, url)
    assert 'data-testid="answer"' in html and "已确认无误" in html and "提交答复" not in html
    again = issuer_console.post(url, {"outcome": "rejected", "reason": "不予更正"})
    assert again.status_code == 409 and "已答复" in again.content.decode()
    review.refresh_from_db()
    assert review.state == "confirmed"


def test_rejected_needs_its_reason_shown_from_the_service(issuer_console, review):
    url = f"/console/reviews/{review.pk}/"
    refused = issuer_console.post(url, {"outcome": "rejected", "reason": "  "})
    assert refused.status_code == 400 and "必须填写答复说明" in refused.content.decode()
    assert ReviewRequest.objects.get(pk=review.pk).state == "open"
    assert (
        issuer_console.post(url, {"outcome": "rejected", "reason": "信息无误"}).status_code == 302
    )
    assert ReviewRequest.objects.get(pk=review.pk).answer_reason == "信息无误"


def test_corrected_amends_the_licence_with_the_surface_fields(issuer_console, review):
    url = f"/console/reviews/{review.pk}/"
    form = page(issuer_console, url)
    assert 'name="surface__经营项目"' in form and ">预包装食品销售</textarea>" in form
    response = issuer_console.post(
        url,
        {
            "outcome": "corrected",
            "reason": "已按营业执照更正经营项目",
            "holder_name": "郑州豫中食品有限公司",
            "surface__经营者名称": "郑州豫中食品有限公司",
            "surface__经营项目": "预包装食品销售、散装食品销售",
        },
    )
    assert response.status_code == 302
    review.refresh_from_db()
    lic = License.objects.get(pk=review.license_id)
    assert lic.version == 2 and review.corrected_identifier == lic.identifier
    assert lic.surface["经营项目"] == "预包装食品销售、散装食品销售"
    assert lic.identifier in page(issuer_console, url)


def test_a_correction_the_schema_refuses_is_shown_and_changes_nothing(issuer_console, review):
    url = f"/console/reviews/{review.pk}/"
    response = issuer_console.post(
        url,
        {"outcome": "corrected", "reason": "更正", "surface__经营项目": "散装食品销售"},
    )
    assert response.status_code == 400
    assert "缺少必填字段" in response.content.decode()  # the required 经营者名称, left empty
    assert ReviewRequest.objects.get(pk=review.pk).state == "open"
    assert License.objects.get(pk=review.license_id).version == 1


def test_a_consumer_is_refused_the_inboxes(consumer_user, review):
    client = console_client(consumer_user)
    for url in (
        "/console/reviews/",
        f"/console/reviews/{review.pk}/",
        "/console/inspections/",
        "/console/usage/",
        "/console/bulk-requests/",
    ):
        assert client.get(url).status_code == 403, url
    assert (
        client.post(f"/console/reviews/{review.pk}/", {"outcome": "confirmed"}).status_code == 403
    )
    assert ReviewRequest.objects.get(pk=review.pk).state == "open"


def test_another_agencys_review_is_not_found(other_issuer_user, review):
    client = console_client(other_issuer_user)
    assert client.get(f"/console/reviews/{review.pk}/").status_code == 404
    posted = client.post(f"/console/reviews/{review.pk}/", {"outcome": "confirmed"})
    assert posted.status_code == 404
    assert client.get("/console/reviews/not-an-id/").status_code == 404
    assert review.identifier not in page(client, "/console/reviews/")
    assert ReviewRequest.objects.get(pk=review.pk).state == "open"


def test_the_governance_forms_need_their_csrf_token(issuer_user, review):
    client = console_client(issuer_user, enforce_csrf_checks=True)
    assert (
        client.post(f"/console/reviews/{review.pk}/", {"outcome": "confirmed"}).status_code == 403
    )
    assert ReviewRequest.objects.get(pk=review.pk).state == "open"
    assert (
        client.post("/console/inspections/00000000-0000-0000-0000-000000000000/").status_code == 403
    )
    assert (
        client.post(
            "/console/bulk-requests/00000000-0000-0000-0000-000000000000/approve/"
        ).status_code
        == 403
    )


# --- inspections -----------------------------------------------------------------------------


@pytest.fixture
def submitted(issuer_user, inspection_type):  # noqa: F811
    with at(2026, 3, 2):
        lic = issue_inspected(issuer_user, inspection_type, number="TX2026001")
        return inspection_submit(
            actor=issuer_user, identifier=lic.identifier, year=2026, files=[("营业执照.pdf", PDF)]
        )


def test_the_inspection_inbox_lists_by_state_and_year_and_shows_materials(
    issuer_console, submitted
):
    assert submitted.identifier in page(issuer_console, "/console/inspections/")
    assert submitted.identifier in page(issuer_console, "/console/inspections/?state=all&year=2026")
    assert submitted.identifier not in page(issuer_console, "/console/inspections/?year=2025")
    assert submitted.identifier not in page(issuer_console, "/console/inspections/?state=approved")
    html = page(issuer_console, f"/console/inspections/{submitted.pk}/")
    assert f"/api/v1/inspections/{submitted.pk}/materials/1/" in html and "营业执照.pdf" in html


def test_an_inspection_is_refused_with_its_reason_then_not_decided_again(issuer_console, submitted):
    url = f"/console/inspections/{submitted.pk}/"
    blank = issuer_console.post(url, {"decision": "refuse", "reason": ""})
    assert blank.status_code == 400 and "不予通过必须填写原因" in blank.content.decode()
    assert Inspection.objects.get(pk=submitted.pk).state == "submitted"
    assert issuer_console.post(url, {"decision": "refuse", "reason": "材料不全"}).status_code == 302
    assert Inspection.objects.get(pk=submitted.pk).decision_reason == "材料不全"
    again = issuer_console.post(url, {"decision": "approve"})
    assert again.status_code == 409 and Inspection.objects.get(pk=submitted.pk).state == "refused"


def test_an_inspection_is_approved(issuer_console, submitted):
    url = f"/console/inspections/{submitted.pk}/"
    assert issuer_console.post(url, {"decision": "approve", "reason": "齐全"}).status_code == 302
    assert Inspection.objects.get(pk=submitted.pk).state == "approved"
    assert 'data-testid="decision"' in page(issuer_console, url)


def test_another_agencys_inspection_is_not_found(other_issuer_user, submitted):
    client = console_client(other_issuer_user)
    assert client.get(f"/console/inspections/{submitted.pk}/").status_code == 404
    assert (
        client.post(f"/console/inspections/{submitted.pk}/", {"decision": "approve"}).status_code
        == 404
    )
    assert Inspection.objects.get(pk=submitted.pk).state == "submitted"


# --- usage and bulk approvals ----------------------------------------------------------------


def test_usage_lists_who_used_the_agencys_licences_with_the_csv_link(
    issuer_console,
    consumer,
    consumer_agency,
    license_type,
    issuer_user,
    query_body,  # noqa: F811
):
    grant(consumer_agency, license_type)
    issue(issuer_user, license_type)
    assert consumer.post("/api/v1/share/query/", query_body(), format="json").status_code == 200
    html = page(issuer_console, "/console/usage/?operation=query")
    assert consumer_agency.name in html and "办理食品经营许可变更" in html
    assert "/api/v1/access-log/export/?operation=query" in html
    today = timezone.localdate()
    later = page(issuer_console, f"/console/usage/?since={(today + timedelta(days=1)).isoformat()}")
    assert consumer_agency.name not in later
    export = issuer_console.get("/api/v1/access-log/export/?operation=query")
    assert (
        export.status_code == 200
        and consumer_agency.code in b"".join(export.streaming_content).decode()
    )
    assert AccessRecord.objects.filter(issuer_code=issuer_user.agency.code).exists()


@pytest.fixture
def bulk_pending(consumer_user, consumer_agency, license_type):
    grant(consumer_agency, license_type)
    today = timezone.localdate()
    return bulk_request_create(
        actor=consumer_user,
        type_codes=[license_type.type_code],
        fields=["number", "holder_name"],
        period_from=today - timedelta(days=30),
        period_to=today,
        matter_code=MATTER,
        purpose="食品经营许可年度统计分析",
        row_cap=1000,
    )


def test_bulk_requests_are_refused_with_a_reason_or_approved(
    issuer_console, bulk_pending, consumer_user, license_type
):
    html = page(issuer_console, "/console/bulk-requests/")
    assert "食品经营许可年度统计分析" in html and 'data-testid="bulk-pending"' in html
    url = f"/console/bulk-requests/{bulk_pending.pk}/refuse/"
    blank = issuer_console.post(url, {"reason": ""}, follow=True)
    assert "拒绝必须填写理由" in blank.content.decode()
    assert BulkRequest.objects.get(pk=bulk_pending.pk).state == "pending"
    assert (
        issuer_console.post(f"/console/bulk-requests/{bulk_pending.pk}/approve/").status_code == 302
    )
    assert BulkRequest.objects.get(pk=bulk_pending.pk).state == "approved"
    again = issuer_console.post(url, {"reason": "重复"}, follow=True)
    assert "该申请已审批" in again.content.decode()
    assert issuer_console.get(url).status_code == 405


def test_another_agencys_bulk_request_is_not_found(other_issuer_user, bulk_pending):
    client = console_client(other_issuer_user)
    posted = client.post(f"/console/bulk-requests/{bulk_pending.pk}/approve/")
    assert posted.status_code == 404
    assert BulkRequest.objects.get(pk=bulk_pending.pk).state == "pending"
    assert "食品经营许可年度统计分析" not in page(client, "/console/bulk-requests/")


def test_text_the_api_would_refuse_is_refused_on_every_form_not_a_500(
    issuer_console, review, submitted, bulk_pending
):
    nul = "理由\x00"
    answered = issuer_console.post(
        f"/console/reviews/{review.pk}/",
        {"outcome": "corrected", "reason": nul, "holder_name": nul, "surface__经营项目": nul},
    )
    assert answered.status_code == 400
    assert (
        issuer_console.post(
            f"/console/reviews/{review.pk}/",
            {"outcome": "corrected", "reason": "更正", "valid_to": "2027-02-30"},
        ).status_code
        == 400
    )
    assert (
        issuer_console.post(f"/console/reviews/{review.pk}/", {"outcome": "?"}).status_code == 400
    )
    refused = issuer_console.post(
        f"/console/inspections/{submitted.pk}/", {"decision": "refuse", "reason": nul}
    )
    assert refused.status_code == 400
    assert (
        issuer_console.post(f"/console/inspections/{submitted.pk}/", {"decision": "x"}).status_code
        == 404
    )
    bulk = issuer_console.post(
        f"/console/bulk-requests/{bulk_pending.pk}/refuse/", {"reason": nul}, follow=True
    )
    assert bulk.status_code == 200 and "拒绝理由" in bulk.content.decode()
    for query in ("since=2026-13-45", "since=%00", "operation=nope", "identifier=%00", "page=x"):
        assert issuer_console.get(f"/console/usage/?{query}").status_code == 200, query
    assert issuer_console.get("/console/inspections/?year=abc&state=%00").status_code == 200
    assert issuer_console.get("/console/reviews/?state=%00&page=99999").status_code == 200
    assert ReviewRequest.objects.get(pk=review.pk).state == "open"
    assert Inspection.objects.get(pk=submitted.pk).state == "submitted"
    assert BulkRequest.objects.get(pk=bulk_pending.pk).state == "pending"


def test_open_requests_come_first_the_nearest_deadline_first(
    issuer_console, review, issuer_user, license_type, consumer_user
):
    other = issue(issuer_user, license_type, holder_body="MA3X7Y9Q", number="JY2")
    second = review_create(
        actor=consumer_user,
        identifier=other.identifier,
        reason=REASON,
        matter_code=MATTER,
        use_cause=CAUSE,
    )
    ReviewRequest.objects.filter(pk=second.pk).update(deadline=review.deadline - timedelta(days=1))
    ReviewRequest.objects.filter(pk=review.pk).update(state="rejected")
    third = ReviewRequest.objects.create(
        **{
            f.name: getattr(second, f.name)
            for f in ReviewRequest._meta.concrete_fields
            if f.name not in ("id", "requester_agency_code")
        },
        requester_agency_code="X",
    )
    ReviewRequest.objects.filter(pk=third.pk).update(deadline=review.deadline + timedelta(days=9))
    html = page(issuer_console, "/console/reviews/")
    assert html.index(str(second.pk)) < html.index(str(third.pk)) < html.index(str(review.pk))
