"""加注件 (purpose-bound copies), legacy digitisation, the archive package, the file routes."""

import io
import json
import zipfile
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone
from PIL import Image, ImageDraw

from shared.crypto.pdfverify import verify_pdf
from shared.domain.canonical import sm3_hex
from shared.files import services
from shared.files.models import AnnotatedCopy, LegacyScan
from shared.files.verification import trust_roots
from tests.shared.files.files_support import render_pending

pytestmark = pytest.mark.django_db
PURPOSE = {"matter_code": "M0001", "use_cause": "办理食品经营许可延续"}


def test_copy_is_watermarked_sealed_and_downloadable_until_it_expires(
    consumer, issuer, issued, consumer_user
):
    response = consumer.post(
        "/api/v1/share/copies/",
        {**PURPOSE, "identifier": issued["identifier"], "days": 2},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["use_cause"], body["created_by"], body["agency_code"]) == (
        PURPOSE["use_cause"],
        "consumer_1",
        consumer_user.agency.code,
    )
    pdf = consumer.get(body["download_url"])
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert sm3_hex(pdf.content) == body["sm3"]
    check = verify_pdf(pdf.content, trust_roots=trust_roots())
    assert (check.code, check.identifier) == (0, issued["identifier"])
    assert "电子证照库" in check.signer  # sealed by the library, not the issuer
    # only the requesting agency downloads it, and only until it expires
    assert issuer.get(body["download_url"]).status_code == 404
    AnnotatedCopy.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    gone = consumer.get(body["download_url"])
    assert (gone.status_code, gone.json()["code"]) == (410, "copy.expired")


def test_a_copy_is_rendered_and_sealed_outside_any_transaction(consumer, issued, monkeypatch):
    # given: the depth of the test's own transaction, and the depth each rendering sees
    outside, depths = len(connection.atomic_blocks), []
    real = services.render_signed

    def render_signed(**kwargs):
        depths.append(len(connection.atomic_blocks))
        return real(**kwargs)

    monkeypatch.setattr(services, "render_signed", render_signed)
    # when
    response = consumer.post(
        "/api/v1/share/copies/", {**PURPOSE, "identifier": issued["identifier"]}, format="json"
    )
    # then: rendered once, with no transaction of the copy's open; its row written after
    assert response.status_code == 201, response.json()
    assert depths == [outside]
    assert AnnotatedCopy.objects.get().sm3 == response.json()["sm3"]


def test_copy_refusals(consumer, other_issuer, issued):
    response = consumer.post(
        "/api/v1/share/copies/", {"identifier": issued["identifier"]}, format="json"
    )
    assert response.status_code == 400
    response = other_issuer.post(
        "/api/v1/share/copies/", {**PURPOSE, "identifier": issued["identifier"]}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (403, "share.forbidden")
    response = consumer.post(
        "/api/v1/share/copies/", {**PURPOSE, "identifier": "1.2.3"}, format="json"
    )
    assert response.status_code == 404
    assert AnnotatedCopy.objects.count() == 0


def scan_png() -> bytes:
    image = Image.new("RGB", (600, 420), (250, 246, 230))
    draw = ImageDraw.Draw(image)
    draw.rectangle((20, 20, 580, 400), outline=(120, 60, 20), width=6)
    draw.text((60, 60), "PAPER LICENCE 1998", fill=(0, 0, 0))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_legacy_scan_becomes_a_sealed_licence(issuer, issue_payload, pki):
    metadata = issue_payload(number="LEGACY-1998-001")
    metadata.pop("mode")
    response = issuer.post(
        "/api/v1/files/legacy/",
        {
            "metadata": json.dumps(metadata),
            "scan": SimpleUploadedFile("scan.png", scan_png(), content_type="image/png"),
        },
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["mode"] == "legacy"
    assert LegacyScan.objects.get().size > 0
    render_pending()
    pdf = issuer.get(f"/api/v1/licenses/{body['identifier']}/file.pdf").content
    assert verify_pdf(pdf, trust_roots=trust_roots()).code == 0
    assert b"/Subtype /Image" in pdf or b"/Subtype/Image" in pdf
    bad = issuer.post(
        "/api/v1/files/legacy/",
        {
            "metadata": json.dumps(metadata),
            "scan": SimpleUploadedFile("x.png", b"not an image", content_type="image/png"),
        },
        format="multipart",
    )
    assert (bad.status_code, bad.json()["code"]) == (400, "legacy.scan_invalid")


def test_archive_package(issuer, issued):
    ident = issued["identifier"]
    issuer.post(f"/api/v1/licenses/{ident}/cancel/", {"reason": "申请注销"}, format="json")
    busy = issuer.get(f"/api/v1/licenses/{ident}/archive.zip")
    assert (busy.status_code, busy.json()["code"]) == (409, "file.not_ready")
    render_pending()
    response = issuer.get(f"/api/v1/licenses/{ident}/archive.zip")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    names = set(archive.namelist())
    assert {
        "files/v001-original.pdf",
        "files/v001-cancelled.pdf",
        "metadata.json",
        "metadata.xml",
        "events.json",
        "verification-report.json",
        "printable.pdf",
        "manifest.json",
        "manifest.sig",
    } <= names
    manifest = json.loads(archive.read("manifest.json"))
    for entry in manifest["entries"]:
        assert sm3_hex(archive.read(entry["name"])) == entry["sm3"]
    assert {e["name"] for e in manifest["entries"]} == names - {"manifest.json", "manifest.sig"}
    xml = archive.read("metadata.xml").decode()
    assert f"<证照标识>{ident}</证照标识>" in xml and "<证照状态>注销</证照状态>" in xml
    report = json.loads(archive.read("verification-report.json"))
    assert [f["file_result"]["code"] for f in report["files"]] == [0, 0]
    assert [e["action"] for e in json.loads(archive.read("events.json"))] == ["issue", "cancel"]


def test_file_routes(issuer, consumer, issued, anon):
    ident = issued["identifier"]
    png = issuer.get(f"/api/v1/licenses/{ident}/qr.png")
    assert png.status_code == 200 and png["Content-Type"] == "image/png"
    ofd = issuer.get(f"/api/v1/licenses/{ident}/file.ofd")
    assert ofd.status_code == 200 and ofd["Content-Type"] == "application/ofd"
    assert consumer.get(f"/api/v1/licenses/{ident}/file.pdf").status_code == 404
    assert anon.get(f"/api/v1/licenses/{ident}/file.pdf").status_code == 401
    assert issuer.get("/api/v1/licenses/1.2.3/file.pdf").status_code == 404
    rows = issuer.get("/api/v1/files/").json()["results"]
    assert [(r["identifier"], r["state"]) for r in rows] == [(ident, "ready")]
