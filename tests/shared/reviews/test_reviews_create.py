"""Filing a review request (art. 24): who may, about which licence, what is checked, and the
access record of an agency's request."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from shared.access.models import AccessRecord
from shared.domain.status import Action
from shared.licenses.services import license_act
from shared.reviews.models import ReviewAttachment, ReviewRequest
from tests.shared.access.conftest import MATTER, grant, issue
from tests.shared.reviews.conftest import CAUSE, REASON, body

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def reviews_records():
    return list(AccessRecord.objects.filter(operation="review").order_by("id"))


def test_an_application_agency_files_a_request_and_it_is_an_access(consumer, granted, lic):
    # when
    response = consumer.post("/api/v1/reviews/", body(lic.identifier), format="json")
    # then
    assert response.status_code == 201, response.json()
    answer = response.json()
    assert answer["state"] == "open"
    assert answer["identifier"] == lic.identifier
    assert answer["fields"] == ["经营项目"]
    assert answer["deadline"] and answer["deadline_provisional"] is False
    assert answer["requester_kind"] == "agency"
    assert answer["requester_agency_code"] == granted.agency.code
    assert answer["revision"] == 1 and answer["reminders_sent"] == 0
    row = ReviewRequest.objects.get(pk=answer["id"])
    assert (row.issuer_id, row.license_id, row.library_code) == (
        lic.issuer_id,
        lic.pk,
        lic.library_code,
    )
    assert (row.matter_code, row.use_cause, row.reason) == (MATTER, CAUSE, REASON)
    [record] = reviews_records()
    assert (record.outcome, record.identifier, record.matter_code, record.use_cause) == (
        "allowed",
        lic.identifier,
        MATTER,
        CAUSE,
    )
    assert record.detail == {"review": answer["id"]}


def test_a_second_open_request_by_the_same_agency_is_refused(consumer, filed, lic):
    # when
    again = consumer.post("/api/v1/reviews/", body(lic.identifier), format="json")
    # then
    assert again.status_code == 409
    assert again.json()["code"] == "review.duplicate"
    assert again.json()["detail"] == {"review": filed["id"]}
    assert ReviewRequest.objects.count() == 1
    assert [r.outcome for r in reviews_records()] == ["allowed", "refused"]


def test_a_request_names_only_fields_the_type_has(consumer, granted, lic):
    response = consumer.post(
        "/api/v1/reviews/",
        body(lic.identifier, fields=["holder_name", "经营项目", "holder_name", "valid_to"]),
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["fields"] == ["holder_name", "经营项目", "valid_to"]
    unknown = consumer.post(
        "/api/v1/reviews/", body(lic.identifier, fields=["注册资本"]), format="json"
    )
    assert unknown.status_code == 400
    assert unknown.json()["code"] == "review.field_unknown"
    assert unknown.json()["detail"]["unknown"] == ["注册资本"]
    assert ReviewRequest.objects.count() == 1


def test_the_reason_is_required_and_clean(consumer, granted, lic):
    for reason, code in (
        ("   ", "validation_error"),
        ("请核实\u202e更正", "text.invalid_character"),
    ):
        response = consumer.post(
            "/api/v1/reviews/", body(lic.identifier, reason=reason), format="json"
        )
        assert response.status_code == 400, reason
        assert response.json()["code"] == code
    assert not ReviewRequest.objects.exists()


def test_unknown_and_unreleased_licences_are_not_found(
    consumer, granted, lic, issuer_user, review_type, consumer_agency
):
    grant(consumer_agency, review_type)
    pending = issue(issuer_user, review_type, number="DY1")  # waits for review: not released
    assert pending.status == "pending"
    bad = lic.identifier[:-1] + ("X" if lic.identifier[-1] != "X" else "Y")
    for identifier in (pending.identifier, bad, "not-an-identifier"):
        response = consumer.post("/api/v1/reviews/", body(identifier), format="json")
        assert response.status_code == 404, identifier
        assert response.json()["code"] == "license.not_found"
    assert not ReviewRequest.objects.exists()
    assert {r.outcome for r in reviews_records()} == {"refused"}


def test_a_consumer_without_a_grant_is_refused_and_recorded(consumer, lic):
    response = consumer.post("/api/v1/reviews/", body(lic.identifier), format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "access.no_grant"
    [record] = reviews_records()
    assert (record.outcome, record.reason_code) == ("refused", "access.no_grant")
    assert not ReviewRequest.objects.exists()


def test_a_licence_outside_the_grants_is_answered_as_missing(
    consumer, consumer_agency, issuer_user, lic
):
    # given: a grant for the matter, but of another type
    from tests.support import make_type

    other = make_type(issuer_user, seq=9, requires_review=False)
    grant(consumer_agency, other)
    # when
    response = consumer.post("/api/v1/reviews/", body(lic.identifier), format="json")
    # then
    assert response.status_code == 404
    [record] = reviews_records()
    assert (record.outcome, record.identifier) == ("refused", lic.identifier)


def test_a_matter_and_purpose_are_required_of_an_agency(consumer, granted, lic):
    for missing in ("matter_code", "use_cause"):
        response = consumer.post(
            "/api/v1/reviews/", body(lic.identifier, **{missing: ""}), format="json"
        )
        assert response.status_code == 403, missing
    assert not ReviewRequest.objects.exists()


@pytest.mark.parametrize("who", ["issuer", "admin", "supervisor", "other_issuer"])
def test_issuers_administrators_and_the_supervisor_do_not_file(request, who, lic):
    client = request.getfixturevalue(who)
    response = client.post("/api/v1/reviews/", body(lic.identifier), format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "review.requester_role"
    assert not ReviewRequest.objects.exists()


def test_a_holder_disputes_only_their_own_licences(holder_client, lic, issuer_user):
    # given: someone else's licence of the same type
    other = issue(issuer_user, lic.license_type, holder_body="MA3X7Y9Q", number="JY2", name="他人")
    # when: through the API with the portal session (CSRF as any session caller)
    from django.middleware.csrf import get_token  # noqa: F401 - the cookie is set on GET

    holder_client.get("/holder/")
    token = holder_client.cookies["csrftoken"].value
    mine = holder_client.post(
        "/api/v1/reviews/",
        {"identifier": lic.identifier, "reason": REASON, "fields": ["经营者名称"]},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
    )
    theirs = holder_client.post(
        "/api/v1/reviews/",
        {"identifier": other.identifier, "reason": REASON},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
    )
    # then
    assert mine.status_code == 201, mine.json()
    assert (mine.json()["requester_kind"], mine.json()["matter_code"]) == ("holder", "")
    assert theirs.status_code == 404
    assert ReviewRequest.objects.get().requester.username == "holder_yuzhong"


def test_attachments_are_stored_with_their_digests(consumer, granted, lic, issuer):
    files = [
        SimpleUploadedFile("营业执照.pdf", PDF, content_type="application/octet-stream"),
        SimpleUploadedFile("现场照片.png", PNG, content_type="image/png"),
    ]
    response = consumer.post(
        "/api/v1/reviews/",
        {**body(lic.identifier, fields=["经营项目", "holder_name"]), "attachments": files},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    answer = response.json()
    assert answer["fields"] == ["经营项目", "holder_name"]
    listed = [(a["name"], a["content_type"], a["size"], a["held"]) for a in answer["attachments"]]
    assert listed == [
        ("营业执照.pdf", "application/pdf", len(PDF), True),
        ("现场照片.png", "image/png", len(PNG), True),
    ]
    first = answer["attachments"][0]
    import hashlib

    assert first["sha256"] == hashlib.sha256(PDF).hexdigest() and len(first["sm3"]) == 64
    # the issuer and the requester download them
    path = f"/api/v1/reviews/{answer['id']}/attachments/{first['id']}/"
    for client in (issuer, consumer):
        got = client.get(path)
        assert got.status_code == 200 and got["Content-Type"] == "application/pdf"
        assert got.content == PDF


def test_an_attachment_is_checked_by_its_content(consumer, granted, lic):
    fake = SimpleUploadedFile("scan.pdf", b"PK\x03\x04 not a pdf", content_type="application/pdf")
    response = consumer.post(
        "/api/v1/reviews/", {**body(lic.identifier), "attachments": [fake]}, format="multipart"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "attachment.type"
    assert response.json()["detail"]["name"] == "scan.pdf"
    assert not ReviewRequest.objects.exists() and not ReviewAttachment.objects.exists()


@override_settings(ATTACHMENT_MAX_BYTES=1024)
def test_an_attachment_over_the_limit_is_refused(consumer, granted, lic):
    big = SimpleUploadedFile("big.pdf", PDF + b"0" * 2000, content_type="application/pdf")
    response = consumer.post(
        "/api/v1/reviews/", {**body(lic.identifier), "attachments": [big]}, format="multipart"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "attachment.too_large"
    assert response.json()["detail"]["max_bytes"] == 1024
    assert not ReviewRequest.objects.exists() and not ReviewAttachment.objects.exists()


def test_a_copy_of_another_librarys_licence_is_disputed_there(consumer, granted, lic):
    type(lic).objects.filter(pk=lic.pk).update(library_code="410300")
    response = consumer.post("/api/v1/reviews/", body(lic.identifier), format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "review.other_library"
    assert not ReviewRequest.objects.exists()


def test_an_older_version_may_be_disputed(consumer, granted, lic, issuer_user):
    first = lic.identifier
    license_act(
        actor=issuer_user,
        identifier=first,
        action=Action.amend,
        surface={"经营者名称": "郑州豫中食品有限公司", "经营项目": "散装食品销售"},
    )
    response = consumer.post("/api/v1/reviews/", body(first), format="json")
    assert response.status_code == 201
    assert response.json()["identifier"] == first
