"""Agencies, staff and tokens: who may manage whom (art. 32)."""

import pytest

from shared.accounts.models import Agency, ApiToken, User
from tests.support import make_uscc

pytestmark = pytest.mark.django_db


def agency_body(**overrides):
    data = {
        "code": make_uscc(dept="11", area="410100", body="00003001"),
        "name": "郑州市卫生健康委员会",
        "kind": "department",
        "area_code": "410100",
        "is_issuer": True,
    }
    data.update(overrides)
    return data


def test_library_admin_registers_agencies(admin):
    response = admin.post("/api/v1/agencies/", agency_body(), format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["is_issuer"] is True
    assert Agency.objects.filter(name="郑州市卫生健康委员会").exists()


def test_agency_code_must_be_a_valid_uscc(admin):
    response = admin.post(
        "/api/v1/agencies/", agency_body(code="91350100M000100Y44"), format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "uscc.checksum"
    assert not Agency.objects.filter(name="郑州市卫生健康委员会").exists()


def test_staff_cannot_register_agencies(issuer, agency_admin):
    count = Agency.objects.count()
    response = issuer.post("/api/v1/agencies/", agency_body(), format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "permission.library_admin_required"
    assert Agency.objects.count() == count


def test_agency_admin_manages_own_staff_only(agency_admin, issuer_agency, other_issuer_agency):
    from tests.support import token_client

    client = token_client(agency_admin)
    ok = client.post(
        f"/api/v1/agencies/{issuer_agency.code}/users/",
        {"username": "new_staff", "display_name": "新人"},
        format="json",
    )
    assert ok.status_code == 201
    assert User.objects.get(username="new_staff").agency == issuer_agency
    other = client.post(
        f"/api/v1/agencies/{other_issuer_agency.code}/users/",
        {"username": "intruder"},
        format="json",
    )
    assert other.status_code == 404
    assert not User.objects.filter(username="intruder").exists()
    token = client.post("/api/v1/tokens/", {"name": "接口", "username": "new_staff"}, format="json")
    assert token.status_code == 201
    assert token.json()["token"].startswith("elc_")


def test_staff_cannot_add_staff(issuer, issuer_agency):
    response = issuer.post(
        f"/api/v1/agencies/{issuer_agency.code}/users/", {"username": "x_staff"}, format="json"
    )
    assert response.status_code == 403
    assert not User.objects.filter(username="x_staff").exists()


def test_revoked_token_stops_working(issuer_user):
    from rest_framework.test import APIClient

    from shared.accounts import services

    token, secret = services.token_issue(actor=None, user=issuer_user, name="t")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert client.get("/api/v1/me/").status_code == 200
    assert client.post(f"/api/v1/tokens/{token.pk}/revoke/").status_code == 200
    response = client.get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["code"] == "auth.failed"
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None


def test_garbage_token_is_401(anon):
    anon.credentials(HTTP_AUTHORIZATION="Bearer nope")
    response = anon.get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["code"] == "auth.failed"
