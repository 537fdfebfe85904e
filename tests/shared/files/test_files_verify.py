"""QR tokens, the public verify page and JSON, share/verify (7 info codes) and verify-file
(3 file codes), with tampering and bad input: never a 500, never "valid" for a bad input."""

from datetime import timedelta

import pytest
from django.utils import timezone

from shared.crypto.suites import get_suite
from shared.crypto.tokens import sign_token
from shared.files import keystore
from shared.files.models import LicenseFile
from tests.shared.files.files_support import issue, render_pending

pytestmark = pytest.mark.django_db

PURPOSE = {"matter_code": "M0001", "use_cause": "办理食品经营许可变更，核验营业执照"}


def qr_token(client, ident):
    response = client.post(f"/api/v1/licenses/{ident}/qr-token/")
    assert response.status_code == 201, response.json()
    return response.json()["token"]


def verify_json(client, token):
    response = client.get(f"/api/v1/public/verify/{token}")
    assert response.status_code == 200
    return response.json()


def act(client, ident, action, **body):
    response = client.post(f"/api/v1/licenses/{ident}/{action}/", body, format="json")
    assert response.status_code == 200, response.json()
    return response.json()["license"]


def test_token_outcomes_follow_the_library(issuer, issued, anon):
    ident = issued["identifier"]
    token = qr_token(issuer, ident)
    assert verify_json(anon, token)["outcome"] == "valid"
    act(issuer, ident, "suspend", reason="暂扣检查")
    body = verify_json(anon, token)
    assert (body["outcome"], body["info_result"]["code"]) == ("suspended", 2)
    act(issuer, ident, "resume", reason="恢复")
    act(issuer, ident, "revoke", reason="吊销")
    body = verify_json(anon, token)
    assert (body["outcome"], body["info_result"]["code"]) == ("revoked", 3)
    page = anon.get(f"/v/{token}")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-outcome="revoked"' in html and "已吊销" in html


def test_token_for_a_superseded_version(issuer, issued, anon):
    ident = issued["identifier"]
    token = qr_token(issuer, ident)
    act(issuer, ident, "amend", surface={"经营者名称": "郑州豫中食品股份有限公司"})
    body = verify_json(anon, token)
    assert (body["outcome"], body["info_result"]["code"]) == ("superseded", 3)
    assert body["license"]["current_identifier"].endswith(
        ".002." + body["license"]["current_identifier"][-1]
    )


def test_expired_forged_and_malformed_tokens_are_never_valid(issuer, issued, anon):
    ident = issued["identifier"]
    key = keystore.token_key_active()
    now = timezone.now()
    claims = {"id": ident, "ver": 1, "iss": issued["issuer_code"], "iat": 0, "sli": 1}
    expired = keystore.token_sign({**claims, "exp": int((now - timedelta(days=1)).timestamp())})
    body = verify_json(anon, expired)
    assert (body["outcome"], body["info_result"]["code"], body["license"]) == (
        "qr_expired",
        4,
        None,
    )
    # signed by another key under our kid: bad signature
    suite = get_suite(key.suite)
    stranger = sign_token(
        suite=suite,
        key=suite.generate_key(),
        kid=key.key_id,
        claims={**claims, "exp": int((now + timedelta(days=1)).timestamp())},
    )
    body = verify_json(anon, stranger)
    assert (body["outcome"], body["info_result"]["code"], body["token_error"]) == (
        "forged",
        6,
        "token.bad_signature",
    )
    # signed by an unknown key
    other = sign_token(
        suite=suite,
        key=suite.generate_key(),
        kid="0" * 32,
        claims={**claims, "exp": int((now + timedelta(days=1)).timestamp())},
    )
    assert verify_json(anon, other)["token_error"] == "token.unknown_key"
    # one flipped character in the claims of a (compact, base-36) QR token
    good = qr_token(issuer, ident)
    flipped = good[:40] + ("A" if good[40] != "A" else "B") + good[41:]
    assert verify_json(anon, flipped)["outcome"] == "forged"
    for junk in ["x", "a.b.c", "%E4%B8%AD", "." * 5]:
        body = verify_json(anon, junk)
        assert body["outcome"] == "forged" and body["info_result"]["code"] == 6
        assert anon.get(f"/v/{junk}").status_code == 200


def share_verify(client, **body):
    response = client.post("/api/v1/share/verify/", {**PURPOSE, **body}, format="json")
    assert response.status_code == 200, response.json()
    return response.json()


def test_share_verify_seven_codes(consumer, issuer, issue_payload, review_type, pki):
    valid = issue(issuer, issue_payload())
    ident = valid["identifier"]
    assert share_verify(consumer, identifier=ident)["info_result"] == {
        "code": 0,
        "message": "信息正确且有效",
    }
    # 1: not yet active (valid_from in the future)
    later = (timezone.localdate() + timedelta(days=10)).isoformat()
    future = issue(issuer, issue_payload(number="JY-F", valid_from=later))
    assert share_verify(consumer, identifier=future["identifier"])["info_result"]["code"] == 1
    # 2: suspended
    act(issuer, ident, "suspend", reason="暂扣")
    assert share_verify(consumer, identifier=ident)["info_result"]["code"] == 2
    # 3: revoked
    act(issuer, ident, "revoke", reason="吊销")
    assert share_verify(consumer, identifier=ident)["info_result"]["code"] == 3
    # 4: nothing to look up
    body = share_verify(consumer)
    assert body["info_result"] == {"code": 4, "message": "信息不全，无法验证"}
    # 5: no such licence
    assert share_verify(consumer, identifier=ident[:-5] + "9.001.X")["info_result"]["code"] == 5
    assert (
        share_verify(consumer, type_code=valid["type_code"], number="NOPE")["info_result"]["code"]
        == 5
    )
    # 6: compared fields differ (比对)
    other = issue(issuer, issue_payload(number="JY-C"))
    body = share_verify(
        consumer,
        identifier=other["identifier"],
        fields={
            "holder_name": "别的公司",
            "number": "JY-C",
            "surface": {"经营项目": "预包装食品销售"},
        },
    )
    assert (body["info_result"]["code"], body["mismatched"], body["license"]) == (
        6,
        ["holder_name"],
        None,
    )
    body = share_verify(
        consumer,
        type_code=valid["type_code"],
        number="JY-C",
        fields={"holder_name": "郑州豫中食品有限公司", "holder_code": other["holder"]["code"]},
    )
    assert body["info_result"]["code"] == 0
    # QR token input: a forged token is 6, never 0
    token = qr_token(issuer, other["identifier"])
    assert share_verify(consumer, token=f"http://testserver/v/{token}")["info_result"]["code"] == 0
    assert share_verify(consumer, token=token[:-4] + "AAAA")["info_result"]["code"] == 6


def test_share_verify_requires_purpose_and_a_permitted_caller(consumer, other_issuer, issued):
    ident = issued["identifier"]
    response = consumer.post("/api/v1/share/verify/", {"identifier": ident}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "validation_error"
    response = consumer.post(
        "/api/v1/share/verify/",
        {**PURPOSE, "use_cause": "x" * 201, "identifier": ident},
        format="json",
    )
    assert response.status_code == 400
    response = other_issuer.post(
        "/api/v1/share/verify/", {**PURPOSE, "identifier": ident}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["code"] == "share.forbidden"


def verify_file(client, data, name="licence.pdf"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile(name, data, content_type="application/pdf")
    response = client.post(
        "/api/v1/share/verify-file/", {**PURPOSE, "file": upload}, format="multipart"
    )
    assert response.status_code == 200, response.json()
    return response.json()


def test_verify_file_outcomes(consumer, issuer, issued):
    ident = issued["identifier"]
    pdf = issuer.get(f"/api/v1/licenses/{ident}/file.pdf").content
    body = verify_file(consumer, pdf)
    assert body["file_result"] == {"code": 0, "message": "文件验证通过"}
    assert body["info_result"] == {"code": 0, "message": "信息正确且有效"}
    assert body["identifier"] == ident
    # one byte flipped inside the signed range (in the document information, still parseable)
    tampered = bytearray(pdf)
    at = pdf.index(b"variant=original") + len("variant=")
    tampered[at] ^= 0x01
    body = verify_file(consumer, bytes(tampered))
    assert body["file_result"] == {"code": 1, "message": "文件签章校验失败"}
    assert body["info_result"]["code"] != 0
    # not a PDF, truncated
    assert verify_file(consumer, b"GIF89a not a pdf")["file_result"]["code"] == 2
    assert verify_file(consumer, pdf[: len(pdf) // 3])["file_result"]["code"] in (1, 2)
    # the library's state changes: same file, new info outcome
    act(issuer, ident, "suspend", reason="暂扣")
    body = verify_file(consumer, pdf)
    assert (body["file_result"]["code"], body["info_result"]["code"]) == (0, 2)


def test_file_signed_by_an_unknown_key_fails_its_seal(consumer, issuer, issued):
    ident = issued["identifier"]
    # given a second library's PKI: same document, sealed by a CA we do not trust
    from shared.crypto import pki
    from shared.crypto.pdfsign import CachedKeySigner, SealSigner, sign_pdf
    from shared.files import documents
    from shared.files.render import render_license_pdf
    from shared.files.seal_image import seal_png
    from shared.licenses.models import License, LicenseVersion

    lic = License.objects.get(identifier=ident)
    version = LicenseVersion.objects.get(identifier=ident)
    doc = documents.license_document(
        lic=lic, version=version, qr=documents.qr_token_issue(lic=lic, version=version)
    )
    page = render_license_pdf(doc, font_path=keystore.font_path())
    now = timezone.now()
    ca_key = pki.generate_p256()
    ca = pki.ca_create(
        key=ca_key, name=pki.subject_name(common_name="假CA", organization="假"), days=9, now=now
    )
    key = pki.generate_p256()
    cert = pki.certificate_issue(
        ca_key=ca_key,
        ca_cert=ca.certificate,
        public_key=key.public_key(),
        name=pki.subject_name(common_name=lic.issuer.name, organization=lic.issuer.name),
        days=9,
        now=now,
    )
    signer = SealSigner(
        signer=CachedKeySigner(key=key, cert=cert.certificate, chain=[ca.certificate]),
        seal_png=seal_png(lic.issuer.name, "假章", keystore.font_path()),
        name=lic.issuer.name,
    )
    forged = sign_pdf(page.pdf, seal=signer, box=page.seal_box, reason="伪造")
    body = verify_file(consumer, forged)
    assert (body["file_result"]["code"], body["reason"]) == (1, "untrusted")
    assert body["info_result"]["code"] == 6
    assert LicenseFile.objects.count() == 1


def test_unsigned_upload_and_other_inputs_never_500(consumer, pki):
    response = consumer.post("/api/v1/share/verify-file/", {**PURPOSE}, format="multipart")
    assert response.status_code == 400
    body = verify_file(consumer, b"%PDF-1.7\n%garbage\n")
    assert body["file_result"]["code"] in (1, 2)
    assert body["info_result"]["code"] == 4


def test_render_pending_is_idempotent(issued):
    assert render_pending() == []
    row = LicenseFile.objects.get()
    from shared.files import signing

    again = signing.license_file_render(file_id=row.pk)
    assert (again.state, again.attempts, again.sm3) == ("ready", 1, row.sm3)
