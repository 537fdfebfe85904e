"""Review before release (art. 14, 经审核后同步)."""

import pytest

from shared.licenses.models import License, LicenseEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def review_payload(issue_payload, review_type):
    return issue_payload(type_code=review_type.type_code)


def submit(client, payload):
    response = client.post("/api/v1/licenses/", payload, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_licence_of_a_review_type_starts_pending(issuer, review_payload):
    body = submit(issuer, review_payload)
    assert body["status"] == "pending"
    assert body["allowed_actions"] == ["approve", "return"]


def test_submitter_cannot_approve_own_licence(issuer, review_payload):
    ident = submit(issuer, review_payload)["identifier"]
    response = issuer.post(f"/api/v1/licenses/{ident}/approve/", {}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "review.same_person"
    assert License.objects.get().status == "pending"
    assert LicenseEvent.objects.count() == 1


def test_another_staff_member_approves(issuer, reviewer, reviewer_user, review_payload):
    ident = submit(issuer, review_payload)["identifier"]
    response = reviewer.post(f"/api/v1/licenses/{ident}/approve/", {}, format="json")
    assert response.status_code == 200
    assert response.json()["license"]["status"] == "valid"
    lic = License.objects.get()
    assert lic.reviewed_by == reviewer_user
    assert list(lic.events.values_list("action", flat=True)) == ["issue", "approve"]


def test_return_with_reason(issuer, reviewer, review_payload):
    ident = submit(issuer, review_payload)["identifier"]
    missing = reviewer.post(f"/api/v1/licenses/{ident}/return/", {}, format="json")
    assert missing.status_code == 400
    assert missing.json()["code"] == "action.reason_required"
    response = reviewer.post(
        f"/api/v1/licenses/{ident}/return/", {"reason": "经营场所地址有误"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["license"]["status"] == "returned"
    again = reviewer.post(f"/api/v1/licenses/{ident}/approve/", {}, format="json")
    assert again.status_code == 409


def test_pending_licence_is_invisible_outside_the_agency(
    issuer, other_issuer, admin, consumer, review_payload
):
    ident = submit(issuer, review_payload)["identifier"]
    for client in (other_issuer, admin, consumer):
        assert client.get(f"/api/v1/licenses/{ident}/").status_code == 404
        assert client.get("/api/v1/licenses/").json()["count"] == 0
    assert issuer.get(f"/api/v1/licenses/{ident}/").status_code == 200


def test_other_agency_cannot_approve(issuer, other_issuer, review_payload):
    ident = submit(issuer, review_payload)["identifier"]
    response = other_issuer.post(f"/api/v1/licenses/{ident}/approve/", {}, format="json")
    assert response.status_code == 404
    assert License.objects.get().status == "pending"


def test_lifecycle_actions_refused_while_pending(issuer, reviewer, review_payload):
    ident = submit(issuer, review_payload)["identifier"]
    response = reviewer.post(f"/api/v1/licenses/{ident}/suspend/", {"reason": "x"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "license.illegal_transition"
