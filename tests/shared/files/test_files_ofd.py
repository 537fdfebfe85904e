"""OFD licence files sealed per GB/T 38540 (SES_Signature v4, SM2 over SM3).

Oracles: the pure-Python ``gmssl`` (SM3 digests, SM2 signatures with the default user ID), the
X.509 and ASN.1 parsers, and the XML parser; the package is checked file by file.
"""

import base64
import datetime as dt
import io
import zipfile
from xml.etree import ElementTree as ET  # noqa: N817

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from django.core.files.uploadedfile import SimpleUploadedFile
from gmssl import func as gmssl_func
from gmssl import sm2 as gmssl_sm2
from gmssl import sm3 as gmssl_sm3

from shared.crypto import _sm2, ofd, ses, sm2x509
from shared.domain.canonical import sm3_hex
from shared.files import keystore
from shared.files.models import LicenseFile, SigningKey
from shared.files.storage import files_root
from tests.shared.files.files_support import render_pending

pytestmark = pytest.mark.django_db
Q = "{http://www.ofdspec.org/2016}"
PURPOSE = {"matter_code": "M0001", "use_cause": "办理食品经营许可延续"}


def _sm3(data: bytes) -> bytes:
    return bytes.fromhex(gmssl_sm3.sm3_hash(gmssl_func.bytes_to_list(data)))


def _gmssl_verify(cert_der: bytes, signature_der: bytes, message: bytes) -> bool:
    """SM2 verification by gmssl (pure Python), Z computed with the default user ID."""
    spki = asn1_x509.Certificate.load(cert_der)["tbs_certificate"]["subject_public_key_info"]
    point = bytes(spki["public_key"].native)
    crypt = gmssl_sm2.CryptSM2(private_key="", public_key=point[1:].hex())
    crypt.public_key = point[1:].hex()  # gmssl's constructor lstrip("04")s the key
    r, s = decode_dss_signature(signature_der)
    return crypt.verify_with_sm3(f"{r:064x}{s:064x}", message)


def _files(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _get_ofd(client, ident):
    response = client.get(f"/api/v1/licenses/{ident}/file.ofd")
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "application/ofd"
    return response.content


def _texts(files: dict[str, bytes]) -> list[str]:
    page = ET.fromstring(files["Doc_0/Pages/Page_0/Content.xml"])  # noqa: S314 - our own output
    return [code.text or "" for code in page.iter(Q + "TextCode")]


# --- the package and its seal, checked independently ---------------------------------------


def test_ofd_package_parses_and_its_seal_verifies_with_gmssl(issuer, issued):
    ident = issued["identifier"]
    data = _get_ofd(issuer, ident)
    files = _files(data)
    assert {
        "OFD.xml",
        "Doc_0/Document.xml",
        "Doc_0/PublicRes.xml",
        "Doc_0/Pages/Page_0/Content.xml",
        "Doc_0/Signs/Signatures.xml",
        "Doc_0/Signs/Sign_0/Signature.xml",
        "Doc_0/Signs/Sign_0/SignedValue.dat",
    } <= set(files)
    for name, content in files.items():  # every XML file parses, in the OFD namespace
        if name.endswith(".xml"):
            assert ET.fromstring(content).tag.startswith(Q), name  # noqa: S314
    root = ET.fromstring(files["OFD.xml"])  # noqa: S314
    assert root.findtext(f"{Q}DocBody/{Q}Signatures") == "Doc_0/Signs/Signatures.xml"
    customs = {c.get("Name"): c.text for c in root.iter(Q + "CustomData")}
    assert customs["identifier"] == ident
    document = ET.fromstring(files["Doc_0/Document.xml"])  # noqa: S314
    assert document.findtext(f".//{Q}PhysicalBox") == "0 0 210 297"
    font = ET.fromstring(files["Doc_0/PublicRes.xml"]).find(f".//{Q}Font")  # noqa: S314
    assert f"Doc_0/Res/{font.findtext(Q + 'FontFile')}" in files  # embedded, not only named
    texts = _texts(files)
    assert issued["holder"]["name"] in texts and issued["number"] in " ".join(texts)
    assert f"证照标识：{ident}" in texts
    assert any(name.startswith("Doc_0/Res/image_") for name in files)  # the QR code

    # SignedInfo: SM2-with-SM3, SM3 references to every file but the signature files
    signature_xml = files["Doc_0/Signs/Sign_0/Signature.xml"]
    signed_info = ET.fromstring(signature_xml).find(Q + "SignedInfo")  # noqa: S314
    assert signed_info.findtext(Q + "SignatureMethod") == "1.2.156.10197.1.501"
    references = signed_info.find(Q + "References")
    assert references.get("CheckMethod") == "1.2.156.10197.1.401"
    digests = {
        r.get("FileRef").lstrip("/"): base64.b64decode(r.findtext(Q + "CheckValue"))
        for r in references
    }
    assert set(digests) == {n for n in files if not n.startswith("Doc_0/Signs/")}
    for name, digest in digests.items():
        assert _sm3(files[name]) == digest, name
    assert signed_info.find(Q + "StampAnnot").get("PageRef") == "2"

    # SignedValue.dat: SES_Signature v4, dataHash = SM3(Signature.xml), signed by the issuer's
    # SM2 seal certificate; the seal is signed by the SM2 CA (the seal maker)
    signature = ses.SES_Signature.load(files["Doc_0/Signs/Sign_0/SignedValue.dat"])
    tbs = signature["toSign"]
    assert tbs["version"].native == 4
    assert bytes(tbs["dataHash"].native) == _sm3(signature_xml)
    assert tbs["propertyInfo"].native == "/Doc_0/Signs/Sign_0/Signature.xml"
    assert signature["signatureAlgID"].dotted == "1.2.156.10197.1.501"
    cert_der = bytes(signature["cert"].native)
    assert _gmssl_verify(cert_der, bytes(signature["signature"].native), tbs.dump())
    cert = asn1_x509.Certificate.load(cert_der)
    assert cert.subject.native["common_name"] == issued["issuer_name"]
    seal = tbs["eseal"]
    info = seal["eSealInfo"]
    assert (info["header"]["ID"].native, info["header"]["version"].native) == ("ES", 4)
    assert [bytes(c.native) for c in info["property"]["certList"]] == [cert_der]
    assert info["picture"]["type"].native == "PNG"
    assert bytes(info["picture"]["data"].native).startswith(b"\x89PNG")
    maker_der = bytes(seal["cert"].native)
    assert _gmssl_verify(maker_der, bytes(seal["signedValue"].native), ses.seal_signed_part(seal))
    sm2_ca = SigningKey.objects.get(kind="sm2ca", active=True)
    assert maker_der == sm2x509.certificate_der_from_pem(sm2_ca.certificate_pem)
    # the seal certificate is signed by the SM2 CA (gmssl over the TBSCertificate)
    assert _gmssl_verify(
        maker_der, bytes(cert["signature_value"].native), cert["tbs_certificate"].dump()
    )
    assert cert["signature_algorithm"]["algorithm"].dotted == "1.2.156.10197.1.501"

    # our verifier agrees
    check = ofd.ofd_verify(data, trust_roots=keystore.sm2_trust_roots())
    assert (check.code, check.reason, check.identifier) == (0, "ok", ident)
    assert check.signer == issued["issuer_name"]

    # made once, recorded on the row, served again from storage
    row = LicenseFile.objects.get(identifier=ident)
    assert (row.ofd_sm3, row.ofd_size) == (sm3_hex(data), len(data))
    assert (files_root() / row.ofd_path).read_bytes() == data
    assert row.ofd_seal.kind == "sm2seal" and row.ofd_seal.agency.name == issued["issuer_name"]
    assert _get_ofd(issuer, ident) == data


def test_tampering_one_byte_of_the_page_fails_on_its_digest(issuer, issued):
    files = _files(_get_ofd(issuer, issued["identifier"]))
    content = bytearray(files["Doc_0/Pages/Page_0/Content.xml"])
    at = content.index(issued["holder"]["name"].encode())
    content[at] ^= 0x01
    tampered = _zip({**files, "Doc_0/Pages/Page_0/Content.xml": bytes(content)})
    check = ofd.ofd_verify(tampered, trust_roots=keystore.sm2_trust_roots())
    assert (check.code, check.reason) == (1, "altered")
    assert "Content.xml" in check.metadata["detail"]
    # an extra file slipped into the package is not covered by the seal either
    extra = _zip({**files, "Doc_0/Res/extra.png": b"\x89PNG"})
    check = ofd.ofd_verify(extra, trust_roots=keystore.sm2_trust_roots())
    assert (check.code, check.reason) == (1, "altered")
    # Signature.xml changed and its digests recomputed: dataHash no longer matches
    signature_xml = files["Doc_0/Signs/Sign_0/Signature.xml"]
    assert signature_xml.endswith(b"</ofd:Signature>")
    signature_xml = signature_xml[: -len(b"</ofd:Signature>")] + b" </ofd:Signature>"
    moved = _zip({**files, "Doc_0/Signs/Sign_0/Signature.xml": signature_xml})
    check = ofd.ofd_verify(moved, trust_roots=keystore.sm2_trust_roots())
    assert (check.code, check.reason) == (1, "altered")
    assert "dataHash" in check.metadata["detail"]


def _other_pki(now):
    ca_key = _sm2.generate()
    ca = sm2x509.sm2_ca_create(
        key=ca_key, name=sm2x509.sm2_name(common_name="假SM2CA", organization="假"), days=9, now=now
    )
    key = _sm2.generate()
    cert = sm2x509.sm2_certificate_issue(
        ca_key=ca_key,
        ca_der=ca.der,
        public_key=key.public,
        name=sm2x509.sm2_name(common_name="某局", organization="某局"),
        days=9,
        now=now,
    )
    return ca_key, ca, key, cert


def _spec(cert, now):
    return ses.SealSpec(
        es_id="X",
        name="假章",
        signer_certificates=[cert.der],
        picture_png=b"\x89PNG",
        width_mm=42,
        height_mm=42,
        valid_start=now - dt.timedelta(hours=1),
        valid_end=now + dt.timedelta(days=1),
        created=now,
    )


def test_a_signature_by_another_key_fails(issuer, issued, consumer):
    ident = issued["identifier"]
    files = _files(_get_ofd(issuer, ident))
    roots = keystore.sm2_trust_roots()
    now = dt.datetime.now(dt.UTC)
    signed_value = files["Doc_0/Signs/Sign_0/SignedValue.dat"]
    original = ses.SES_Signature.load(signed_value)
    seal_der = original["toSign"]["eseal"].dump()
    genuine_cert = bytes(original["cert"].native)
    signature_xml = files["Doc_0/Signs/Sign_0/Signature.xml"]
    _ca_key, other_ca, other_key, other_cert = _other_pki(now)

    # the genuine seal and certificate, but signed by another key
    forged = ses.signature_make(
        seal_der=seal_der,
        data=signature_xml,
        property_info="/Doc_0/Signs/Sign_0/Signature.xml",
        key=other_key,
        cert=genuine_cert,
        when=now,
    )
    data = _zip({**files, "Doc_0/Signs/Sign_0/SignedValue.dat": forged})
    assert ofd.ofd_verify(data, trust_roots=roots).reason == "bad_signature"

    # another key with its own certificate: not in the seal's certificate list
    forged = ses.signature_make(
        seal_der=seal_der,
        data=signature_xml,
        property_info="/Doc_0/Signs/Sign_0/Signature.xml",
        key=other_key,
        cert=other_cert.der,
        when=now,
    )
    data = _zip({**files, "Doc_0/Signs/Sign_0/SignedValue.dat": forged})
    assert ofd.ofd_verify(data, trust_roots=roots).reason == "seal_signer_mismatch"

    # a whole package made with an untrusted SM2 CA: consistent, but untrusted
    other_seal = ses.seal_make(_spec(other_cert, now), maker_key=_ca_key, maker_cert=other_ca.der)
    page = ofd.OfdPage(title="t", author="a", texts=[], custom={"identifier": ident})
    signer = ofd.OfdSigner(key=other_key, certificate=other_cert.der, seal=other_seal)
    foreign = ofd.ofd_build(page, font_name="F", signer=signer, when=now, doc_id="x")
    assert ofd.ofd_verify(foreign, trust_roots=[other_ca.der]).code == 0
    check = ofd.ofd_verify(foreign, trust_roots=roots)
    assert (check.code, check.reason) == (1, "untrusted")

    # uploaded to share/verify-file/: the same three file outcomes as a PDF
    def verify_file(data, name="licence.ofd"):
        upload = SimpleUploadedFile(name, data, content_type="application/ofd")
        response = consumer.post(
            "/api/v1/share/verify-file/", {**PURPOSE, "file": upload}, format="multipart"
        )
        assert response.status_code == 200, response.json()
        return response.json()

    body = verify_file(_zip(files))
    assert (body["file_result"]["code"], body["info_result"]["code"]) == (0, 0)
    assert body["identifier"] == ident and body["license"]["identifier"] == ident
    body = verify_file(foreign)
    assert (body["file_result"]["code"], body["reason"], body["info_result"]["code"]) == (
        1,
        "untrusted",
        6,
    )
    broken = _zip({"OFD.xml": b"<not xml"})
    assert verify_file(broken)["file_result"]["code"] == 2


def test_garbage_never_raises(pki):
    roots = keystore.sm2_trust_roots()
    for data in (b"", b"PK\x03\x04garbage", b"%PDF-1.7", _zip({"x.txt": b"x"})):
        assert ofd.ofd_verify(data, trust_roots=roots).code == 2
    unsigned = _zip(
        {"OFD.xml": b'<ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016"><ofd:DocBody/></ofd:OFD>'}
    )
    assert ofd.ofd_verify(unsigned, trust_roots=roots).reason == "unsigned"
    dtd = _zip({"OFD.xml": b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>'})
    assert ofd.ofd_verify(dtd, trust_roots=roots).code == 2


# --- the route ------------------------------------------------------------------------------


def test_ofd_route_answers_like_the_pdf_route(issuer, consumer, anon, issued):
    ident = issued["identifier"]
    assert zipfile.ZipFile(io.BytesIO(_get_ofd(issuer, ident))).read("OFD.xml").startswith(b"<?xml")
    unknown = issuer.get("/api/v1/licenses/1.2.3/file.ofd")
    assert unknown.status_code == 404
    for client in (consumer, anon):
        pdf = client.get(f"/api/v1/licenses/{ident}/file.pdf")
        ofd_response = client.get(f"/api/v1/licenses/{ident}/file.ofd")
        assert ofd_response.status_code == pdf.status_code
        assert ofd_response.json().get("code") == pdf.json().get("code")


def test_pending_file_is_409_like_the_pdf(issuer, issue_payload, pki):
    from tests.shared.files.files_support import issue

    ident = issue(issuer, issue_payload())["identifier"]
    response = issuer.get(f"/api/v1/licenses/{ident}/file.ofd")
    assert (response.status_code, response.json()["code"]) == (409, "file.not_ready")
    render_pending()
    # issuing made the PDF only; the OFD is made on its first request
    assert LicenseFile.objects.get(identifier=ident).ofd_path == ""
    assert issuer.get(f"/api/v1/licenses/{ident}/file.ofd").status_code == 200
    assert LicenseFile.objects.get(identifier=ident).ofd_path.endswith("original.ofd")


def test_cancelled_licence_ofd_carries_the_watermark(issuer, issued):
    ident = issued["identifier"]
    clean = _texts(_files(_get_ofd(issuer, ident)))
    assert "已注销" not in clean
    response = issuer.post(
        f"/api/v1/licenses/{ident}/cancel/", {"reason": "申请注销"}, format="json"
    )
    assert response.status_code == 200, response.json()
    render_pending()
    data = _get_ofd(issuer, ident)
    texts = _texts(_files(data))
    assert "已注销" in texts
    assert any(t.startswith("本证照已于") and t.endswith("注销") for t in texts)
    check = ofd.ofd_verify(data, trust_roots=keystore.sm2_trust_roots())
    assert (check.code, check.metadata["variant"]) == (0, "cancelled")
    assert LicenseFile.objects.get(identifier=ident, variant="cancelled").ofd_path.endswith(
        "cancelled.ofd"
    )


def test_sm2_seal_rotation_keeps_old_ofds_verifiable(issuer, issued):
    ident = issued["identifier"]
    data = _get_ofd(issuer, ident)
    old = SigningKey.objects.get(kind="sm2seal", active=True)
    new = keystore.sm2_seal_rotate(agency=old.agency)
    assert new.key_id != old.key_id
    assert ofd.ofd_verify(data, trust_roots=keystore.sm2_trust_roots()).code == 0
    trust = keystore.sm2_trust_roots()
    assert len(trust) == 1


def test_verify_command_checks_an_ofd_against_the_published_trust_list(
    issuer, issued, anon, tmp_path, capsys
):
    import json

    from django.core.management import call_command

    ident = issued["identifier"]
    path = tmp_path / "licence.ofd"
    path.write_bytes(_get_ofd(issuer, ident))
    trust = anon.get("/api/v1/public/trust-list").json()
    assert [e["key_id"] for e in trust["trust_list"]["sm2_ca"]] == [
        SigningKey.objects.get(kind="sm2ca").key_id
    ]
    assert len(trust["trust_list"]["sm2_seals"]) == 1
    trust_file = tmp_path / "trust.json"
    trust_file.write_text(json.dumps(trust), encoding="utf-8")
    fingerprint = trust["trust_list"]["ca"][0]["fingerprint"]
    call_command(
        "verify",
        str(path),
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
    # a trust list without the SM2 CA: the same file is untrusted (exit status 1)
    trust["trust_list"]["sm2_ca"] = []
    from shared.crypto.trustlist import TrustListError, load_trust_list

    with pytest.raises(TrustListError):  # the list's signature covers the SM2 CA entries
        load_trust_list(trust, ca_fingerprint=fingerprint)
    files = _files(path.read_bytes())
    content = bytearray(files["Doc_0/Pages/Page_0/Content.xml"])
    content[-20] ^= 0x01
    path.write_bytes(_zip({**files, "Doc_0/Pages/Page_0/Content.xml": bytes(content)}))
    with pytest.raises(SystemExit) as exit_info:
        call_command("verify", str(path), "--json")
    assert exit_info.value.code == 1
    assert json.loads(capsys.readouterr().out)["file_result"] == "1 文件签章校验失败"


def test_sm2_certificates_verify_in_openssl(issuer, issued, tmp_path):
    """OpenSSL 3 as a second independent verifier of the SM2 chain (default SM2 user ID)."""
    import shutil
    import subprocess

    openssl = shutil.which("openssl")
    assert openssl, "openssl missing"
    _get_ofd(issuer, issued["identifier"])
    ca = tmp_path / "sm2ca.pem"
    ca.write_text(SigningKey.objects.get(kind="sm2ca").certificate_pem)
    seal = tmp_path / "seal.pem"
    seal.write_text(SigningKey.objects.get(kind="sm2seal").certificate_pem)
    command = [openssl, "verify", "-vfyopt", "distid:1234567812345678", "-CAfile", str(ca)]
    result = subprocess.run([*command, str(seal)], capture_output=True, text=True, check=False)  # noqa: S603
    assert result.returncode == 0 and result.stdout.strip().endswith(": OK"), result.stderr
    # a certificate of another SM2 CA does not verify against ours
    _ca_key, _other_ca, _key, other = _other_pki(dt.datetime.now(dt.UTC))
    stranger = tmp_path / "stranger.pem"
    stranger.write_text(other.pem)
    result = subprocess.run([*command, str(stranger)], capture_output=True, text=True, check=False)  # noqa: S603
    assert result.returncode != 0
