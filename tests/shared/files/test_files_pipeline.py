"""Issue → render → seal on a real `signing` Celery worker, checked by independent verifiers:
poppler's pdfsig (signature valid, whole document signed) and pdffonts (every font embedded),
and the QR code decoded by zxing-cpp and by zbar to the URL the verify endpoint accepts."""

import subprocess
from urllib.parse import urlsplit

import pytest
import zxingcpp
from PIL import Image

from shared.files.models import LicenseFile
from tests.shared.files.files_support import issue, pdfsig, trust_ca_in_nss, wait_ready

pytestmark = pytest.mark.django_db(transaction=True)


def test_issue_is_rendered_and_sealed_by_the_worker(
    signing_worker, issuer, issue_payload, pki, tmp_path, anon
):
    # given / when: the API answers at once, the worker renders after commit
    body = issue(issuer, issue_payload())
    assert body["file"]["state"] == "pending"
    ident = body["identifier"]
    ready = wait_ready(issuer, ident)
    # then
    assert ready["file"]["state"] == "ready", ready["file"]
    response = issuer.get(f"/api/v1/licenses/{ident}/file.pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    pdf = tmp_path / "licence.pdf"
    pdf.write_bytes(response.content)

    # pdfsig: valid, trusted (through an NSS database holding our CA), whole document signed
    report = pdfsig(pdf, trust_ca_in_nss(tmp_path / "nss-a"))
    assert "Signature is Valid." in report, report
    assert "Certificate is Trusted." in report, report
    assert "Total document signed" in report, report
    assert "ETSI.CAdES.detached" in report, report

    # pdffonts: every font embedded (no STSong-Light, no base-14 Helvetica)
    fonts = subprocess.run(
        ["pdffonts", str(pdf)], capture_output=True, text=True, check=True
    ).stdout.splitlines()[2:]
    assert fonts, "the page has text, so it has fonts"
    assert all(line.split()[-5] == "yes" for line in fonts), fonts

    # the QR code, decoded from the rasterised page by two independent decoders
    subprocess.run(
        ["pdftoppm", "-r", "150", "-png", "-singlefile", str(pdf), str(tmp_path / "page")],
        check=True,
    )
    image = Image.open(tmp_path / "page.png")
    decoded = [
        r.text for r in zxingcpp.read_barcodes(image) if r.format == zxingcpp.BarcodeFormat.QRCode
    ]
    assert len(decoded) == 1
    url = decoded[0]
    zbar = subprocess.run(
        ["zbarimg", "--quiet", "--raw", str(tmp_path / "page.png")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert zbar == url
    assert url.startswith("HTTP://TESTSERVER/V/")  # upper case: QR alphanumeric mode
    path = urlsplit(url).path
    page = anon.get(path)
    assert page.status_code == 200
    assert 'data-outcome="valid"' in page.content.decode()
    answer = anon.get("/api/v1/public/verify/" + path.rsplit("/", 1)[1]).json()
    assert answer["outcome"] == "valid"
    assert answer["info_result"] == {"code": 0, "message": "信息正确且有效"}
    assert answer["license"]["identifier"] == ident


def test_revoking_renders_a_watermarked_file(signing_worker, issuer, issue_payload, pki):
    ident = issue(issuer, issue_payload())["identifier"]
    wait_ready(issuer, ident)
    response = issuer.post(
        f"/api/v1/licenses/{ident}/revoke/", {"reason": "严重违法，吊销"}, format="json"
    )
    assert response.status_code == 200
    body = wait_ready(issuer, ident)
    assert body["file"]["variant"] == "revoked"
    assert body["file"]["state"] == "ready"
    variants = sorted(LicenseFile.objects.values_list("variant", "state"))
    assert variants == [("original", "ready"), ("revoked", "ready")]
    revoked_pdf = issuer.get(f"/api/v1/licenses/{ident}/file.pdf").content
    original = LicenseFile.objects.get(variant="original")
    original_pdf = issuer.get(f"/api/v1/licenses/{ident}/file.pdf")  # still the revoked one
    assert original_pdf.content == revoked_pdf
    assert b"variant=revoked" in revoked_pdf
    # the watermark: the middle of the page turns red (pdftotext drops diagonal text)
    assert red_pixels(revoked_pdf) > 20 * red_pixels(read_file(original))


def read_file(row):
    from shared.files import storage

    return storage.read(row.path)


def red_pixels(pdf: bytes) -> int:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "f.pdf").write_bytes(pdf)
        subprocess.run(
            ["pdftoppm", "-r", "30", "-png", "-singlefile", f"{folder}/f.pdf", f"{folder}/p"],
            check=True,
        )
        image = Image.open(f"{folder}/p.png").convert("RGB")
    w, h = image.size
    middle = image.crop((w // 4, h // 3, 3 * w // 4, 2 * h // 3))
    return sum(1 for r, g, b in middle.getdata() if r > 200 and g < 190 and b < 190) + 1
