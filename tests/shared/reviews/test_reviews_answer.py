"""The issuer's inbox and its answers: who sees what, confirmed / corrected / rejected, the
corrected licence through its normal lifecycle, and every out-of-order answer refused with 409
and nothing changed."""

import pytest

from shared.domain.status import Action
from shared.federation.models import OutboxEvent
from shared.licenses.models import License, LicenseEvent
from shared.licenses.services import license_act
from shared.reviews.models import ReviewRequest
from tests.shared.reviews.conftest import body, review_outbox, state_of

pytestmark = pytest.mark.django_db
SURFACE = {"经营者名称": "郑州豫中食品有限公司", "经营项目": "预包装食品销售、散装食品销售"}


def answer(client, review_id, **data):
    return client.post(f"/api/v1/reviews/{review_id}/answer/", data, format="json")


def ids(response):
    return [r["id"] for r in response.json()["results"]]


def test_the_inbox_shows_each_party_its_own(
    filed, issuer, other_issuer, consumer, second_consumer, admin, supervisor, holder_client
):
    review_id = filed["id"]
    for client in (issuer, consumer, admin, supervisor):
        assert ids(client.get("/api/v1/reviews/")) == [review_id]
        detail = client.get(f"/api/v1/reviews/{review_id}/")
        assert detail.status_code == 200 and detail.json()["id"] == review_id
    for client in (other_issuer, second_consumer):
        assert ids(client.get("/api/v1/reviews/")) == []
        missing = client.get(f"/api/v1/reviews/{review_id}/")
        assert missing.status_code == 404 and missing.json()["code"] == "review.not_found"
    assert holder_client.get("/api/v1/reviews/").json()["results"] == []
    assert issuer.get("/api/v1/reviews/not-a-uuid/").status_code == 404


def test_the_inbox_filters_by_state_and_overdue(filed, issuer):
    assert ids(issuer.get("/api/v1/reviews/?state=open")) == [filed["id"]]
    assert ids(issuer.get("/api/v1/reviews/?state=confirmed")) == []
    assert ids(issuer.get("/api/v1/reviews/?overdue=true")) == []
    assert ids(issuer.get("/api/v1/reviews/?overdue=false")) == [filed["id"]]
    assert issuer.get("/api/v1/reviews/?state=bogus").status_code == 400


def test_attachments_are_for_the_parties_only(filed, admin, supervisor, other_issuer):
    from shared.reviews.models import ReviewAttachment

    row = ReviewAttachment.objects.create(
        review_id=filed["id"],
        name="a.pdf",
        content_type="application/pdf",
        size=5,
        sm3="0" * 64,
        sha256="0" * 64,
        content=b"%PDF-",
    )
    path = f"/api/v1/reviews/{filed['id']}/attachments/{row.pk}/"
    for client in (admin, supervisor, other_issuer):
        response = client.get(path)
        assert response.status_code == 404, response.content
    assert admin.get(f"/api/v1/reviews/{filed['id']}/").json()["attachments"][0]["name"] == "a.pdf"


def test_the_issuer_confirms_and_the_requester_sees_the_answer(filed, issuer, consumer):
    # when
    response = answer(issuer, filed["id"], outcome="confirmed")
    # then
    assert response.status_code == 200, response.json()
    seen = consumer.get(f"/api/v1/reviews/{filed['id']}/").json()
    assert (seen["state"], seen["answer_reason"], seen["answered_late"]) == ("confirmed", "", False)
    assert seen["answered_at"] and seen["revision"] == 2
    assert [e.payload["review"]["state"] for e in review_outbox()] == ["open", "confirmed"]


def test_a_rejection_needs_a_reason(filed, issuer, consumer):
    before = state_of(filed["id"])
    refused = answer(issuer, filed["id"], outcome="rejected")
    assert refused.status_code == 400 and refused.json()["code"] == "reason.required"
    assert state_of(filed["id"]) == before
    done = answer(issuer, filed["id"], outcome="rejected", reason="经核实，照面信息与档案一致")
    assert done.status_code == 200
    seen = consumer.get(f"/api/v1/reviews/{filed['id']}/").json()
    assert (seen["state"], seen["answer_reason"]) == ("rejected", "经核实，照面信息与档案一致")


def test_a_correction_amends_the_licence_in_the_same_transaction(filed, issuer, consumer, lic):
    outbox_before = OutboxEvent.objects.count()
    # when
    response = answer(
        issuer, filed["id"], outcome="corrected", reason="经营项目登记有误，已更正", surface=SURFACE
    )
    # then: the licence has a new version, through the normal lifecycle
    assert response.status_code == 200, response.json()
    lic.refresh_from_db()
    assert (lic.version, lic.surface) == (2, SURFACE)
    event = LicenseEvent.objects.filter(license=lic).latest("seq")
    assert (event.action, event.reason) == ("amend", "经营项目登记有误，已更正")
    seen = consumer.get(f"/api/v1/reviews/{filed['id']}/").json()
    assert (seen["state"], seen["corrected_identifier"]) == ("corrected", lic.identifier)
    assert seen["identifier"] == filed["identifier"] != lic.identifier
    # both changes go up to the hub: the licence's event and the request's update
    new = OutboxEvent.objects.order_by("seq")[outbox_before:]
    assert [e.kind for e in new] == ["license.event", "review.update"]
    assert new[1].payload["review"]["corrected_identifier"] == lic.identifier


def test_a_correction_without_changes_or_of_a_revoked_licence_changes_nothing(
    filed, issuer, issuer_user, lic
):
    before = state_of(filed["id"])
    nothing = answer(issuer, filed["id"], outcome="corrected", reason="更正")
    assert nothing.status_code == 400 and nothing.json()["code"] == "amend.nothing_to_change"
    assert state_of(filed["id"]) == before
    license_act(actor=issuer_user, identifier=lic.identifier, action=Action.revoke, reason="吊销")
    before = state_of(filed["id"])
    revoked = answer(issuer, filed["id"], outcome="corrected", reason="更正", surface=SURFACE)
    assert revoked.status_code == 409 and revoked.json()["code"] == "license.illegal_transition"
    assert state_of(filed["id"]) == before
    lic.refresh_from_db()
    assert (lic.version, lic.status) == (1, "revoked")


def test_only_a_correction_changes_the_licence(filed, issuer, lic):
    before = state_of(filed["id"])
    response = answer(issuer, filed["id"], outcome="confirmed", surface=SURFACE)
    assert response.status_code == 400 and response.json()["code"] == "review.amend_not_allowed"
    assert state_of(filed["id"]) == before
    assert License.objects.get(pk=lic.pk).version == 1


@pytest.mark.parametrize("second", ["confirmed", "corrected", "rejected"])
def test_answering_a_closed_request_is_refused_and_changes_nothing(filed, issuer, second, lic):
    assert answer(issuer, filed["id"], outcome="rejected", reason="无误").status_code == 200
    before = state_of(filed["id"])
    version = License.objects.get(pk=lic.pk).version
    # when
    again = answer(issuer, filed["id"], outcome=second, reason="再次答复", surface=SURFACE)
    # then
    assert again.status_code == 409
    assert again.json()["code"] == "review.closed"
    assert state_of(filed["id"]) == before
    assert License.objects.get(pk=lic.pk).version == version


@pytest.mark.parametrize(
    "who,status",
    [("consumer", 403), ("admin", 403), ("supervisor", 403), ("other_issuer", 404)],
)
def test_only_the_issuer_answers(request, filed, who, status):
    before = state_of(filed["id"])
    client = request.getfixturevalue(who)
    response = answer(client, filed["id"], outcome="confirmed")
    assert response.status_code == status
    assert state_of(filed["id"]) == before


def test_another_agency_may_file_its_own_request_on_the_same_licence(
    filed, second_consumer, lic, issuer
):
    from shared.access.models import Grant
    from shared.accounts.models import Agency

    agency = Agency.objects.get(name="不动产登记中心")
    Grant.objects.create(
        agency=agency,
        license_type=lic.license_type,
        matter_code="M0001",
        tier="city",
        valid_from=lic.issue_date,
    )
    response = second_consumer.post("/api/v1/reviews/", body(lic.identifier), format="json")
    assert response.status_code == 201
    assert len(ids(issuer.get("/api/v1/reviews/"))) == 2
    assert ReviewRequest.objects.filter(state="open").count() == 2
