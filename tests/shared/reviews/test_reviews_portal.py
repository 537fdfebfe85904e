"""The holder portal's review pages: a form on one of the holder's licences (reason, fields,
attachments; CSRF), and the holder's requests with their state and the issuer's answer."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from shared.reviews.models import ReviewRequest
from tests.shared.access.conftest import issue
from tests.shared.reviews.conftest import REASON

pytestmark = pytest.mark.django_db
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def test_the_holder_files_a_request_from_the_portal_and_reads_the_answer(
    holder_client, lic, issuer
):
    # given: the licence list links to the form
    home = holder_client.get("/holder/").content.decode()
    form_path = f"/holder/licences/{lic.identifier}/review/"
    assert form_path in home and "申请复核" in home
    page = holder_client.get(form_path)
    assert page.status_code == 200
    text = page.content.decode()
    assert "csrfmiddlewaretoken" in text and "经营项目" in text and "持证主体名称" in text
    # when
    response = holder_client.post(
        form_path,
        {
            "reason": REASON,
            "fields": ["经营项目", "holder_name"],
            "attachments": [SimpleUploadedFile("照片.png", PNG, content_type="image/png")],
        },
    )
    # then
    assert response.status_code == 302 and response["Location"] == "/holder/reviews/"
    review = ReviewRequest.objects.get()
    assert (review.requester_kind, review.fields, review.reason) == (
        "holder",
        ["经营项目", "holder_name"],
        REASON,
    )
    assert review.attachments.get().content_type == "image/png"
    listing = holder_client.get("/holder/reviews/").content.decode()
    assert "复核申请已提交" in listing and "待答复" in listing and "持证主体名称" in listing
    assert str(review.deadline) in listing
    # the issuer answers; the holder sees it
    issuer.post(
        f"/api/v1/reviews/{review.pk}/answer/",
        {"outcome": "rejected", "reason": "经核实，照面信息与档案一致"},
        format="json",
    )
    listing = holder_client.get("/holder/reviews/").content.decode()
    assert "不予更正" in listing and "经核实，照面信息与档案一致" in listing


def test_errors_are_shown_on_the_form_and_nothing_is_filed(holder_client, lic):
    path = f"/holder/licences/{lic.identifier}/review/"
    fake = SimpleUploadedFile("照片.png", b"GIF89a....", content_type="image/png")
    response = holder_client.post(path, {"reason": REASON, "attachments": [fake]})
    assert response.status_code == 400
    assert "不是 PDF、JPEG 或 PNG 文件" in response.content.decode()
    blank = holder_client.post(path, {"reason": "  "})
    assert blank.status_code == 400 and "必须填写申请理由" in blank.content.decode()
    assert not ReviewRequest.objects.exists()


def test_a_second_open_request_is_refused_on_the_form(holder_client, lic):
    path = f"/holder/licences/{lic.identifier}/review/"
    assert holder_client.post(path, {"reason": REASON}).status_code == 302
    again = holder_client.post(path, {"reason": REASON})
    assert again.status_code == 409 and "已有一份待答复的复核申请" in again.content.decode()
    assert ReviewRequest.objects.count() == 1


def test_only_the_holders_own_licences_have_a_form(holder_client, issuer_user, license_type):
    other = issue(issuer_user, license_type, holder_body="MA3X7Y9Q", number="JY2", name="他人")
    path = f"/holder/licences/{other.identifier}/review/"
    assert holder_client.get(path).status_code == 404
    assert holder_client.post(path, {"reason": REASON}).status_code == 404
    assert not ReviewRequest.objects.exists()


def test_the_form_needs_a_csrf_token_and_a_signed_in_holder(holder_user, lic):
    path = f"/holder/licences/{lic.identifier}/review/"
    assert Client().get(path).status_code == 302  # sign in first
    assert Client().get("/holder/reviews/").status_code == 302
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(holder_user)
    response = browser.post(path, {"reason": REASON})
    assert response.status_code == 403
    assert not ReviewRequest.objects.exists()
