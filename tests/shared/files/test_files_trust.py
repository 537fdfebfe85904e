"""Trust list, status lists and the offline `verify` command; PKI init, rotation, keys at rest."""

import json

import pytest
from django.core.management import call_command

from shared.crypto import statuslist
from shared.crypto.tokens import read_token_header
from shared.crypto.trustlist import TrustListError, load_trust_list
from shared.files import keystore
from shared.files.models import SigningKey, StatusListIndex
from tests.shared.files.files_support import render_pending

pytestmark = pytest.mark.django_db


def test_pki_init_is_idempotent_and_keys_are_encrypted_at_rest(pki, capsys):
    call_command("pki", "init")
    call_command("pki", "init")
    assert SigningKey.objects.filter(kind="ca").count() == 1
    assert SigningKey.objects.filter(kind="token", active=True).count() == 1
    for key in SigningKey.objects.exclude(backend="pkcs11"):
        assert "ENCRYPTED PRIVATE KEY" in key.private_key_pem
    assert "根证书 SHA-256 指纹" in capsys.readouterr().out
    assert SigningKey.objects.get(kind="token").suite == "gm"


def test_seal_rotation_keeps_old_files_verifiable(
    issuer, issued, consumer, issuer_agency, issue_payload
):
    old_pdf = issuer.get(f"/api/v1/licenses/{issued['identifier']}/file.pdf").content
    call_command("pki", "rotate-seal", "--agency", issuer_agency.code)
    assert SigningKey.objects.filter(kind="seal", agency=issuer_agency).count() == 2
    response = issuer.post("/api/v1/licenses/", issue_payload(number="JY-NEW"), format="json")
    render_pending()
    new_pdf = issuer.get(f"/api/v1/licenses/{response.json()['identifier']}/file.pdf").content
    purpose = {"matter_code": "M0001", "use_cause": "核验"}
    from django.core.files.uploadedfile import SimpleUploadedFile

    for pdf in (old_pdf, new_pdf):
        upload = SimpleUploadedFile("f.pdf", pdf, content_type="application/pdf")
        body = consumer.post(
            "/api/v1/share/verify-file/", {**purpose, "file": upload}, format="multipart"
        ).json()
        assert body["file_result"]["code"] == 0, body
    trust = consumer.get("/api/v1/public/trust-list").json()["trust_list"]
    assert [s["active"] for s in trust["seals"] if s["agency_code"] == issuer_agency.code] == [
        False,
        True,
    ]


def test_trust_list_is_signed_and_anchored_in_the_ca(anon, pki):
    response = anon.get("/api/v1/public/trust-list")
    assert response.status_code == 200
    assert "max-age" in response["Cache-Control"]
    body = response.json()
    ca = body["trust_list"]["ca"][0]["fingerprint"]
    trust = load_trust_list(body, ca_fingerprint=ca)
    assert len(trust.token_keys) == 1
    with pytest.raises(TrustListError):
        load_trust_list(body, ca_fingerprint="00" * 32)
    body["trust_list"]["library"] = "419001"
    with pytest.raises(TrustListError):
        load_trust_list(body)


def test_status_lists_tell_the_status_without_naming_the_licence(
    issuer, issued, anon, issuer_agency
):
    ident = issued["identifier"]
    index = StatusListIndex.objects.get().index
    url = f"/api/v1/public/status-lists/{issuer_agency.code}/revocation"
    first = anon.get(url)
    assert first.status_code == 200
    assert "public" in first["Cache-Control"] and first["ETag"]
    assert anon.get(url, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    bits = statuslist.decode(first.json()["credential"]["encodedList"])
    assert len(bits) * 8 >= 131_072 and not statuslist.is_set(bits, index)
    issuer.post(f"/api/v1/licenses/{ident}/revoke/", {"reason": "吊销"}, format="json")
    bits = statuslist.decode(anon.get(url).json()["credential"]["encodedList"])
    assert statuslist.is_set(bits, index)
    assert sum(bin(b).count("1") for b in bits) == 1
    suspended = anon.get(f"/api/v1/public/status-lists/{issuer_agency.code}/suspension").json()
    assert not statuslist.is_set(statuslist.decode(suspended["credential"]["encodedList"]), index)
    assert anon.get(f"/api/v1/public/status-lists/{issuer_agency.code}/other").status_code == 404
    assert anon.get("/api/v1/public/status-lists/NOPE/revocation").status_code == 404


def test_verify_command_checks_files_and_tokens_offline(issuer, issued, tmp_path, capsys, anon):
    ident = issued["identifier"]
    pdf = tmp_path / "licence.pdf"
    pdf.write_bytes(issuer.get(f"/api/v1/licenses/{ident}/file.pdf").content)
    trust_file = tmp_path / "trust.json"
    trust_file.write_text(
        json.dumps(anon.get("/api/v1/public/trust-list").json()), encoding="utf-8"
    )
    fingerprint = json.loads(trust_file.read_text())["trust_list"]["ca"][0]["fingerprint"]
    call_command(
        "verify",
        str(pdf),
        "--trust-list",
        str(trust_file),
        "--ca-fingerprint",
        fingerprint,
        "--json",
    )
    result = json.loads(capsys.readouterr().out)
    assert (result["valid"], result["file_result"], result["identifier"]) == (
        True,
        "0 文件验证通过",
        ident,
    )
    token = issuer.post(f"/api/v1/licenses/{ident}/qr-token/").json()["url"]
    call_command("verify", token, "--trust-list", str(trust_file), "--json")
    result = json.loads(capsys.readouterr().out)
    assert (result["valid"], result["identifier"], result["revocation_list"]) == (
        True,
        ident,
        "checked",
    )
    # tampered file and revoked licence: exit status 1
    data = bytearray(pdf.read_bytes())
    at = data.index(b"variant=original") + 8
    data[at] ^= 1
    pdf.write_bytes(bytes(data))
    with pytest.raises(SystemExit) as exit_info:
        call_command("verify", str(pdf), "--json")
    assert exit_info.value.code == 1
    assert json.loads(capsys.readouterr().out)["file_result"] == "1 文件签章校验失败"
    issuer.post(f"/api/v1/licenses/{ident}/revoke/", {"reason": "吊销"}, format="json")
    with pytest.raises(SystemExit):
        call_command("verify", token, "--json")
    assert json.loads(capsys.readouterr().out)["outcome"] == "revoked"


def test_intl_suite_for_tokens(settings, issuer, issued, anon):
    settings.CRYPTO_SUITE = "intl"
    token = issuer.post(f"/api/v1/licenses/{issued['identifier']}/qr-token/").json()["token"]
    assert read_token_header(token)["alg"] == "ES256"
    assert anon.get(f"/api/v1/public/verify/{token}").json()["outcome"] == "valid"
    assert keystore.token_key_active().suite == "intl"
    assert SigningKey.objects.filter(kind="token").count() == 2
