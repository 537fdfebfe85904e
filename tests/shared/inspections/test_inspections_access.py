"""Who may submit, read, download and decide; and the holder portal's form (CSRF-checked)."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.test import APIClient

from shared.access.portal import holder_create
from shared.accounts.models import User
from shared.inspections.models import Inspection
from tests.shared.inspections.conftest import (
    OTHER_HOLDER_CODE,
    PDF,
    TOTP_KEY,
    at,
    holder_api,
    holder_browser,
    issue,
    staff,
    submit,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(
    issuer_user, reviewer_user, other_issuer_user, consumer_user, library_admin, inspection_type
):
    holder_create(
        username="holder_2",
        password="Holder-12345",
        display_name="另一位持证人",
        holder_code=OTHER_HOLDER_CODE,
        holder_code_type="001",
        totp_key=TOTP_KEY,
    )
    with at(2025, 11, 3):
        mine = issue(issuer_user, inspection_type, number="TH0001")
    return {
        "licence": mine,
        "issuer": issuer_user,
        "colleague": reviewer_user,
        "other_issuer": other_issuer_user,
        "consumer": consumer_user,
        "admin": library_admin,
        # the supervisor's account service belongs to another part of #12: the row itself
        "supervisor": User.objects.create(username="supervisor_1", role="supervisor"),
    }


def test_who_may_submit(world, holder_user):
    ident = world["licence"].identifier
    with at(2026, 3, 2, hour=9):
        other_holder = submit(holder_api("holder_2"), ident)
    with at(2026, 3, 2):
        answers = {
            role: submit(staff(world[role]), ident)
            for role in ("other_issuer", "consumer", "admin", "supervisor")
        }
        unverified = APIClient()
        unverified.force_login(holder_user)  # a session without the one-time code
        answers["unverified"] = submit(unverified, ident)
        answers["anonymous"] = submit(APIClient(), ident)
    assert (other_holder.status_code, other_holder.json()["code"]) == (404, "license.not_found")
    assert {role: (r.status_code, r.json()["code"]) for role, r in answers.items()} == {
        "other_issuer": (404, "license.not_found"),
        "consumer": (403, "inspection.forbidden"),
        "admin": (403, "inspection.forbidden"),
        "supervisor": (403, "inspection.forbidden"),
        "unverified": (403, "inspection.holder_unverified"),
        "anonymous": (401, answers["anonymous"].json()["code"]),
    }
    assert not Inspection.objects.exists()
    # the issuer's staff may submit on the holder's behalf
    with at(2026, 3, 3):
        behalf = submit(staff(world["colleague"]), ident)
    assert behalf.status_code == 201
    assert (behalf.json()["submitter_kind"], behalf.json()["submitted_by"]) == (
        "issuer",
        "issuer_2",
    )


def test_who_sees_downloads_and_decides(world, holder_user):
    with at(2026, 3, 2):
        created = submit(holder_api(), world["licence"].identifier).json()
    base = f"/api/v1/inspections/{created['id']}/"
    with at(2026, 3, 2, hour=11):
        lists = {
            role: [
                row["id"]
                for row in staff(world[role]).get("/api/v1/inspections/").json()["results"]
            ]
            for role in ("issuer", "other_issuer", "consumer", "admin", "supervisor")
        }
        lists["holder"] = [
            r["id"] for r in holder_api().get("/api/v1/inspections/").json()["results"]
        ]
    with at(2026, 3, 2, hour=12):
        lists["other_holder"] = [
            r["id"] for r in holder_api("holder_2").get("/api/v1/inspections/").json()["results"]
        ]
    assert lists == {
        "issuer": [created["id"]],
        "other_issuer": [],
        "consumer": [],
        "admin": [created["id"]],
        "supervisor": [created["id"]],
        "holder": [created["id"]],
        "other_holder": [],
    }
    with at(2026, 3, 3):
        downloads = {
            role: staff(world[role]).get(base + "materials/1/").status_code
            for role in ("issuer", "other_issuer", "admin", "supervisor")
        }
        downloads["holder"] = holder_api().get(base + "materials/1/").status_code
    assert downloads == {
        "issuer": 200,
        "other_issuer": 404,
        "admin": 403,
        "supervisor": 403,
        "holder": 200,
    }
    with at(2026, 3, 4, hour=9):
        decisions = {
            role: staff(world[role]).post(base + "approve/", {}).status_code
            for role in ("other_issuer", "consumer", "admin", "supervisor")
        }
        decisions["holder"] = holder_api().post(base + "approve/", {}).status_code
        decisions["malformed id"] = (
            staff(world["issuer"]).post("/api/v1/inspections/not-an-id/approve/", {}).status_code
        )
    assert decisions == {
        "other_issuer": 404,
        "consumer": 403,
        "admin": 403,
        "supervisor": 403,
        "holder": 403,
        "malformed id": 404,
    }
    assert Inspection.objects.get().state == "submitted"
    with at(2026, 3, 4, hour=10):
        assert staff(world["colleague"]).post(base + "approve/", {}).status_code == 200


def test_the_holder_portal_lists_and_submits_with_csrf(world, holder_user):
    with at(2026, 3, 2):
        browser = holder_browser()
        page = browser.get("/holder/inspections/")
        assert page.status_code == 200
        text = page.content.decode()
        assert "特种行业许可证" in text and world["licence"].identifier in text
        assert "每年 01-01 至 06-30" in text
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', text).group(1)
        strict = Client(enforce_csrf_checks=True)
        strict.cookies = browser.cookies
        form = {
            "identifier": world["licence"].identifier,
            "note": "年检材料",
            "attachments": SimpleUploadedFile("执照.pdf", PDF),
        }
        forged = strict.post("/holder/inspections/submit/", form)
        assert forged.status_code == 403
        assert not Inspection.objects.exists()
        form["attachments"] = SimpleUploadedFile("执照.pdf", PDF)
        sent = strict.post("/holder/inspections/submit/", {**form, "csrfmiddlewaretoken": csrf})
        assert (sent.status_code, sent["Location"]) == (302, "/holder/inspections/")
        after = strict.get("/holder/inspections/").content.decode()
        assert "已提交 2026 年度年检申请，请等待签发单位审核" in after
        assert "待审核" in after
        form["attachments"] = SimpleUploadedFile("执照.pdf", PDF)
        twice = strict.post("/holder/inspections/submit/", {**form, "csrfmiddlewaretoken": csrf})
        assert twice.status_code == 302
        assert "请勿重复提交" in strict.get("/holder/inspections/").content.decode()
    row = Inspection.objects.get()
    assert (row.submitter_kind, row.note, row.materials.get().content) == (
        "holder",
        "年检材料",
        PDF,
    )
    # signed out: sent to sign in
    assert Client().get("/holder/inspections/").status_code == 302
