"""The demo (issue #14): the demo holder (张伟) acts for a demo company that delegated to them,
and the company signs in with its own one-time code; seeding twice keeps one delegation."""

import base64
import json

import pytest
from django.core.management import call_command
from django.test import Client
from django_otp.oath import totp

from shared.delegation.models import Delegation
from shared.licenses.models import License

pytestmark = pytest.mark.django_db


def code(secret):
    return f"{totp(base64.b32decode(secret + '=' * (-len(secret) % 8))):06d}"


def signed_in(account):
    client = Client()
    response = client.post(
        account["login_path"],
        {
            "username": account["username"],
            "password": account["password"],
            "otp_token": code(account["totp_secret"]),
        },
    )
    assert response.status_code == 302
    return client


def test_the_demo_holder_acts_for_the_demo_company(tmp_path):
    # given
    path = tmp_path / "credentials.json"
    call_command("seed_demo", credentials=str(path))
    doc = json.loads(path.read_text(encoding="utf-8"))
    holder, corp = doc["holder"], doc["legal_person"]
    assert corp["delegate"] == holder["username"]
    # when: 张伟 switches to the company
    client = signed_in(holder)
    delegation = Delegation.objects.get(delegate__username=holder["username"])
    assert client.post("/holder/act/", {"delegation": str(delegation.pk)}).status_code == 302
    # then
    page = client.get("/holder/").content.decode()
    assert f"代表 <strong>{corp['name']}</strong> 办理" in page
    company_licence = License.objects.filter(holder_name=corp["name"]).order_by("id").first()
    assert company_licence.identifier in page
    # the company signs in itself and sees its delegation
    own = signed_in(corp).get("/holder/delegations/").content.decode()
    assert holder["username"] in own and "有效" in own
    # seeding again keeps the one delegation
    call_command("seed_demo", credentials=str(tmp_path / "again.json"))
    assert Delegation.objects.count() == 1
