"""The demo: a holder signs in with a one-time code and sees who looked at their licence."""

import base64
import json

import pytest
from django.core.management import call_command
from django.test import Client
from django_otp.oath import totp

pytestmark = pytest.mark.django_db


def test_demo_holder_signs_in_and_sees_the_consumers_queries(tmp_path, capsys):
    path = tmp_path / "credentials.json"
    call_command("seed_demo", credentials=str(path))
    doc = json.loads(path.read_text(encoding="utf-8"))
    holder, consumer = doc["holder"], doc["consumer"]
    assert len(consumer["grants"]) == 2
    assert consumer["grants"][0]["type_code"] == doc["issuer"]["type_codes"][0]
    assert holder["otpauth_uri"].startswith("otpauth://totp/")
    capsys.readouterr()
    call_command("holder_totp", credentials=str(path))
    code = capsys.readouterr().out.strip()
    secret = holder["totp_secret"]
    assert code == f"{totp(base64.b32decode(secret + '=' * (-len(secret) % 8))):06d}"
    client = Client()
    response = client.post(
        holder["login_path"],
        {"username": holder["username"], "password": holder["password"], "otp_token": code},
    )
    assert response.status_code == 302
    page = client.get("/holder/").content.decode()
    assert "个体工商户营业执照" in page
    assert "办理个体工商户变更登记，核验营业执照" in page
    assert "政务服务中心" in page
    # seeding again changes nothing and writes the same credentials
    again = tmp_path / "again.json"
    call_command("seed_demo", credentials=str(again))
    assert again.read_text(encoding="utf-8") == path.read_text(encoding="utf-8")
