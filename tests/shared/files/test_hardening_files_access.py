"""Issue #10, item 3 (files side): every file handed out is an access record, a copy is
downloaded only while the grant it was made under holds, and purposes of invisible, bidi or
control characters are refused at the share endpoints."""

import pytest

from shared.access.grants import grant_revoke
from shared.access.models import AccessRecord, Grant

pytestmark = pytest.mark.django_db
PURPOSE = {"matter_code": "M0001", "use_cause": "办理食品经营许可延续"}


def last_id() -> int:
    return AccessRecord.objects.order_by("-id").values_list("id", flat=True).first() or 0


def downloads_since(before: int) -> list[AccessRecord]:
    return list(AccessRecord.objects.filter(id__gt=before, operation="download").order_by("id"))


@pytest.mark.parametrize(
    ("route", "method", "status", "file"),
    [
        ("file.pdf", "get", 200, "file.pdf"),
        ("archive.zip", "get", 200, "archive.zip"),
        ("qr.png", "get", 200, "qr.png"),
        ("qr-token/", "post", 201, "qr-token"),
        ("file.ofd", "get", 200, "file.ofd"),
    ],
)
def test_every_file_download_is_recorded(issuer, issuer_user, issued, route, method, status, file):
    ident = issued["identifier"]
    before = last_id()
    response = getattr(issuer, method)(f"/api/v1/licenses/{ident}/{route}")
    assert response.status_code == status
    [record] = downloads_since(before)
    assert (record.outcome, record.username, record.agency_code) == (
        "allowed",
        issuer_user.username,
        issuer_user.agency.code,
    )
    assert (record.identifier, record.detail["file"], record.detail["identifier"]) == (
        ident,
        file,
        ident,
    )
    assert record.holder_digest  # the holder sees it among the uses of their licence


def test_a_refused_download_is_recorded(consumer, consumer_user, issued):
    before = last_id()
    response = consumer.get(f"/api/v1/licenses/{issued['identifier']}/archive.zip")
    assert response.status_code == 404
    [record] = downloads_since(before)
    assert (record.outcome, record.reason_code, record.username) == (
        "refused",
        "license.not_found",
        consumer_user.username,
    )


def _copy(consumer, issued):
    response = consumer.post(
        "/api/v1/share/copies/", {**PURPOSE, "identifier": issued["identifier"]}, format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()


def test_copy_download_is_recorded(consumer, consumer_user, issued):
    copy = _copy(consumer, issued)
    before = last_id()
    assert consumer.get(copy["download_url"]).status_code == 200
    [record] = downloads_since(before)
    assert (record.outcome, record.identifier, record.username) == (
        "allowed",
        issued["identifier"],
        consumer_user.username,
    )
    assert (record.matter_code, record.use_cause) == (PURPOSE["matter_code"], PURPOSE["use_cause"])
    assert (record.detail["file"], record.detail["copy"]) == ("copy", copy["id"])


def test_copy_is_refused_once_the_grant_is_revoked(
    consumer, consumer_agency, library_admin, admin, issued
):
    copy = _copy(consumer, issued)
    for grant in Grant.objects.filter(agency=consumer_agency, revoked_at__isnull=True):
        grant_revoke(actor=library_admin, grant_id=grant.pk)
    before = last_id()
    response = consumer.get(copy["download_url"])
    body = response.json()
    assert (response.status_code, body["code"]) == (403, "access.no_grant")
    assert "授权" in body["message"]
    [record] = downloads_since(before)
    assert (record.outcome, record.reason_code, record.identifier) == (
        "refused",
        "access.no_grant",
        issued["identifier"],
    )
    assert record.detail["copy"] == copy["id"]
    # the library administrator needs no grant
    assert admin.get(copy["download_url"]).status_code == 200


@pytest.mark.parametrize("cause", ["\u200b\u200b", "核验\u202e原证", "核验\x1b原证"])
def test_share_endpoints_refuse_invisible_bidi_and_control_purposes(consumer, issued, cause):
    body = {"matter_code": "M0001", "use_cause": cause, "identifier": issued["identifier"]}
    before = last_id()
    for path in ("/api/v1/share/verify/", "/api/v1/share/copies/"):
        response = consumer.post(path, body, format="json")
        assert (response.status_code, response.json()["code"]) == (400, "access.purpose_invalid")
    records = AccessRecord.objects.filter(id__gt=before)
    assert {r.outcome for r in records} == {"refused"}
    assert not records.filter(outcome="allowed").exists()
