"""Issue #10, item 10 "Files that travel badly": the OFD carries its font, the QR code is small
enough to scan from a page printed or scanned at 80 dpi, and document dates are Beijing time.

Independent parts: fontTools and reportlab read the embedded font, poppler rasterises and
extracts text, zbar and zxing-cpp decode the QR code, segno says which QR mode the URL needs.
"""

import datetime as dt
import io
import json
import subprocess
import zipfile
from datetime import timedelta
from urllib.parse import quote, urlsplit
from xml.etree import ElementTree as ET  # noqa: N817

import pytest
import segno
import zxingcpp
from django.core.management import call_command
from django.utils import timezone
from fontTools.pens.boundsPen import BoundsPen
from fontTools.ttLib import TTFont
from PIL import Image
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont as ReportlabTTFont
from reportlab.pdfgen import canvas

from shared.crypto import _sm2, ofd, ses, sm2x509
from shared.crypto.suites import get_suite
from shared.crypto.tokens import sign_qr_token
from shared.files import keystore
from shared.files.models import LicenseFile
from shared.files.statuslists import status_index_ensure
from shared.licenses.models import License

pytestmark = pytest.mark.django_db
Q = "{http://www.ofdspec.org/2016}"


def _files(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _get_ofd(client, ident) -> bytes:
    response = client.get(f"/api/v1/licenses/{ident}/file.ofd")
    assert response.status_code == 200, response.content[:300]
    return response.content


def _xml(data: bytes) -> ET.Element:
    return ET.fromstring(data)  # noqa: S314 - our own output


def _font_file(files: dict[str, bytes]) -> str:
    """The package path of the font PublicRes.xml declares (relative to its BaseLoc)."""
    public = _xml(files["Doc_0/PublicRes.xml"])
    (font,) = public.iter(Q + "Font")
    return f"Doc_0/{public.get('BaseLoc')}/{font.findtext(Q + 'FontFile')}"


def _text_objects(files: dict[str, bytes]) -> list[tuple[list[float], float, str]]:
    page = _xml(files["Doc_0/Pages/Page_0/Content.xml"])
    return [
        (
            [float(v) for v in text.get("Boundary").split()],
            float(text.get("Size")),
            text.findtext(Q + "TextCode") or "",
        )
        for text in page.iter(Q + "TextObject")
    ]


# --- the OFD carries its font ----------------------------------------------------------------


def test_ofd_embeds_a_font_subset_with_every_glyph_the_page_draws(issuer, issued):
    # given
    ident = issued["identifier"]
    # when
    data = _get_ofd(issuer, ident)
    files = _files(data)
    # then: PublicRes.xml names the font *and* its file, which is in the package
    path = _font_file(files)
    assert path in files
    font = TTFont(io.BytesIO(files[path]))
    assert "glyf" in font and len(files[path]) < 200_000  # a subset, not the 5 MB collection
    # every character of the page text maps to a glyph; every visible one has an outline
    text = "".join(code for _box, _size, code in _text_objects(files))
    assert issued["holder"]["name"] in text and f"证照标识：{ident}" in text
    cmap = font.getBestCmap()
    glyphs = font.getGlyphSet()
    missing, blank = [], []
    for char in sorted(set(text)):
        if ord(char) not in cmap:
            missing.append(char)
            continue
        pen = BoundsPen(glyphs)
        glyphs[cmap[ord(char)]].draw(pen)
        if pen.bounds is None and not char.isspace():
            blank.append(char)
    assert (missing, blank) == ([], [])
    # the seal covers the font like every other file, and verifies
    signature = _xml(files["Doc_0/Signs/Sign_0/Signature.xml"])
    assert "/" + path in {r.get("FileRef") for r in signature.iter(Q + "Reference")}
    check = ofd.ofd_verify(data, trust_roots=keystore.sm2_trust_roots())
    assert (check.code, check.reason, check.identifier) == (0, "ok", ident)


def test_the_text_renders_from_the_embedded_font_alone(issuer, issued, tmp_path):
    """A reader's path: register the package's font (reportlab's own TrueType parser, not the
    system font), draw each TextObject where it says, and let poppler read the page back."""
    files = _files(_get_ofd(issuer, issued["identifier"]))
    font_name = "PackageFont-" + issued["identifier"][-8:]
    pdfmetrics.registerFont(ReportlabTTFont(font_name, io.BytesIO(files[_font_file(files)])))
    pdf = tmp_path / "ofd-page.pdf"
    page = canvas.Canvas(str(pdf), pagesize=(210 * mm, 297 * mm), initialFontName=font_name)
    for (x, y, _w, _h), size, code in _text_objects(files):
        page.setFont(font_name, size * mm)
        page.drawString(x * mm, (297 - y - size) * mm, code)
    page.save()
    fonts = subprocess.run(
        ["pdffonts", str(pdf)], capture_output=True, text=True, check=True
    ).stdout.splitlines()[2:]
    assert [line.split()[-5] for line in fonts] == ["yes"]  # only the embedded font, embedded
    extracted = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert issued["holder"]["name"] in extracted
    assert issued["number"] in extracted


def test_tampering_with_the_embedded_font_fails_verification(issuer, issued):
    # given
    files = _files(_get_ofd(issuer, issued["identifier"]))
    path = _font_file(files)
    roots = keystore.sm2_trust_roots()
    assert ofd.ofd_verify(_zip(files), trust_roots=roots).code == 0
    # when: one byte of the font changed
    font = bytearray(files[path])
    font[len(font) // 2] ^= 0x01
    check = ofd.ofd_verify(_zip({**files, path: bytes(font)}), trust_roots=roots)
    # then
    assert (check.code, check.reason) == (1, "altered")
    assert path in check.metadata["detail"]
    # the font removed, or another font under the same name: refused too
    without = {name: content for name, content in files.items() if name != path}
    assert ofd.ofd_verify(_zip(without), trust_roots=roots).reason == "altered"
    other = {**files, path: files[path] + b"\x00"}
    assert ofd.ofd_verify(_zip(other), trust_roots=roots).reason == "altered"


def _signer(now):
    ca_key = _sm2.generate()
    ca = sm2x509.sm2_ca_create(
        key=ca_key, name=sm2x509.sm2_name(common_name="CA", organization="CA"), days=9, now=now
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
    spec = ses.SealSpec(
        es_id="X",
        name="章",
        signer_certificates=[cert.der],
        picture_png=b"\x89PNG",
        width_mm=42,
        height_mm=42,
        valid_start=now - dt.timedelta(hours=1),
        valid_end=now + dt.timedelta(days=1),
        created=now,
    )
    seal = ses.seal_make(spec, maker_key=ca_key, maker_cert=ca.der)
    return ofd.OfdSigner(key=key, certificate=cert.der, seal=seal), ca.der


def test_ofd_dates_are_beijing_time_not_utc():
    # given: 17:30 UTC is 01:30 the next day in Beijing
    when = dt.datetime(2026, 6, 1, 17, 30, tzinfo=dt.UTC)
    signer, root = _signer(when)
    page = ofd.OfdPage(title="t", author="a", texts=[], custom={"identifier": "x"})
    # when
    data = ofd.ofd_build(page, font_name="F", signer=signer, when=when, doc_id="x")
    # then
    root_xml = _xml(_files(data)["OFD.xml"])
    assert root_xml.findtext(f"{Q}DocBody/{Q}DocInfo/{Q}CreationDate") == "2026-06-02"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert {entry.date_time for entry in archive.infolist()} == {(2026, 6, 2, 1, 30, 0)}
    # the signature time stays an unambiguous UTC instant
    signature = _xml(_files(data)["Doc_0/Signs/Sign_0/Signature.xml"])
    assert signature.findtext(f".//{Q}SignatureDateTime") == "20260601173000Z"
    assert ofd.ofd_verify(data, trust_roots=[root], now=when).code == 0
    with pytest.raises(ValueError, match="timezone-aware"):
        ofd.ofd_build(page, font_name="F", signer=signer, when=dt.datetime(2026, 6, 1), doc_id="x")


# --- the QR code: compact token, short URL --------------------------------------------------


def _claims(ident, issuer_code, **extra):
    lic = License.objects.get(identifier=ident)
    now = int(timezone.now().timestamp())
    return {
        "id": ident,
        "ver": 1,
        "iss": issuer_code,
        "lib": lic.library_code,
        "iat": now,
        "exp": now + 30 * 86400,
        "sli": status_index_ensure(license=lic).index,
        **extra,
    }


def test_qr_url_is_short_upper_case_and_alphanumeric_mode(issuer, issued, capsys):
    # given
    ident = issued["identifier"]
    # when
    body = issuer.post(f"/api/v1/licenses/{ident}/qr-token/").json()
    token, url = body["token"], body["url"]
    # then: HTTP://HOST/V/<base 36>, every character in the QR alphanumeric set
    assert url == f"HTTP://TESTSERVER/V/{token}"
    assert set(url) <= set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
    symbol = segno.make_qr(url, error="m", boost_error=False)
    assert (symbol.mode, symbol.version) == ("alphanumeric", 8)
    # the former form of the same claims (JWS, base64url, lower-case URL) for comparison
    legacy = keystore.token_sign(_claims(ident, issued["issuer_code"]))
    legacy_url = f"http://testserver/v/{quote(legacy, safe='.-_')}"
    legacy_symbol = segno.make_qr(legacy_url, error="m", boost_error=False)
    with capsys.disabled():
        print(
            f"\nQR URL: {len(legacy_url)} → {len(url)} characters, "
            f"version {legacy_symbol.version} ({legacy_symbol.mode}) → {symbol.version}"
        )
    assert len(url) <= 200 < 400 < len(legacy_url)
    assert legacy_symbol.version >= 13
    # the stored file row carries the same form
    row = LicenseFile.objects.get(identifier=ident)
    assert row.qr_url.startswith("HTTP://TESTSERVER/V/") and len(row.qr_url) <= 200


def _verify(client, token):
    response = client.get(f"/api/v1/public/verify/{token}")
    assert response.status_code == 200
    return response.json()


def test_qr_token_verifies_on_every_route_and_in_any_case(issuer, issued, anon, consumer):
    ident = issued["identifier"]
    body = issuer.post(f"/api/v1/licenses/{ident}/qr-token/").json()
    token, url = body["token"], body["url"]
    answer = _verify(anon, token)
    assert (answer["outcome"], answer["info_result"]["code"]) == ("valid", 0)
    assert answer["license"]["identifier"] == ident
    # the scanned URL's path, the former lower-case route, a lower-cased token
    for path in (urlsplit(url).path, f"/v/{token}", f"/V/{token.lower()}"):
        page = anon.get(path)
        assert page.status_code == 200
        assert 'data-outcome="valid"' in page.content.decode(), path
    assert _verify(anon, token.lower())["outcome"] == "valid"
    # share/verify with the whole scanned URL
    response = consumer.post(
        "/api/v1/share/verify/",
        {"matter_code": "M0001", "use_cause": "核验营业执照", "token": url},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["info_result"]["code"] == 0


def test_forged_and_expired_qr_tokens_are_never_valid(issuer, issued, anon):
    # given
    ident = issued["identifier"]
    good = issuer.post(f"/api/v1/licenses/{ident}/qr-token/").json()["token"]
    key = keystore.token_key_active()
    suite = get_suite(key.suite)
    now = int(timezone.now().timestamp())
    base = {
        "suite": suite,
        "key": keystore.private_key(key),
        "kid": key.key_id,
        "identifier": ident,
        "issuer": issued["issuer_code"],
        "issued_at": now,
        "expires_at": now + 86400,
    }
    cases = {
        "tampered": (good[:60] + ("A" if good[60] != "A" else "B") + good[61:], "forged", 6),
        "other_key_same_kid": (
            sign_qr_token(**{**base, "key": suite.generate_key()}),
            "forged",
            6,
        ),
        "unknown_kid": (sign_qr_token(**{**base, "kid": "00000000" * 4}), "forged", 6),
        "claims_mismatch": (
            sign_qr_token(**{**base, "issuer": "91410100MA44XXXX0X"}),
            "forged",
            6,
        ),
        "expired": (
            sign_qr_token(**{**base, "issued_at": now - 10 * 86400, "expires_at": now - 1}),
            "qr_expired",
            4,
        ),
        "garbage": ("ZZZZZZZZZZ", "forged", 6),
    }
    for name, (token, outcome, code) in cases.items():
        # when
        answer = _verify(anon, token)
        # then: never 0, never the licence's fields
        assert (answer["outcome"], answer["info_result"]["code"]) == (outcome, code), name
        assert answer["license"] is None, name
        page = anon.get(f"/V/{token}")
        assert page.status_code == 200 and 'data-outcome="valid"' not in page.content.decode()
    expired = _verify(anon, cases["expired"][0])
    assert expired["token_error"] == "token.expired" and expired["qr_expires_at"]
    assert _verify(anon, cases["other_key_same_kid"][0])["token_error"] == "token.bad_signature"
    assert _verify(anon, cases["unknown_kid"][0])["token_error"] == "token.unknown_key"
    assert _verify(anon, cases["claims_mismatch"][0])["token_error"] == "token.claims_mismatch"


def test_former_long_tokens_still_verify_until_they_expire(issuer, issued, anon):
    """Licences printed before the compact form carry JWS tokens: accepted, same rules."""
    ident = issued["identifier"]
    legacy = keystore.token_sign(_claims(ident, issued["issuer_code"]))
    assert _verify(anon, legacy)["outcome"] == "valid"
    assert 'data-outcome="valid"' in anon.get(f"/v/{legacy}").content.decode()
    expired = keystore.token_sign(
        _claims(ident, issued["issuer_code"], exp=int(timezone.now().timestamp()) - 1)
    )
    assert _verify(anon, expired)["info_result"]["code"] == 4


def test_printed_page_qr_decodes_at_80_dpi(issuer, issued, anon, tmp_path):
    # given: the sealed PDF, rasterised as a low-resolution scan of a printout
    ident = issued["identifier"]
    pdf = tmp_path / "licence.pdf"
    pdf.write_bytes(issuer.get(f"/api/v1/licenses/{ident}/file.pdf").content)
    subprocess.run(
        ["pdftoppm", "-r", "80", "-png", "-singlefile", str(pdf), str(tmp_path / "page")],
        check=True,
    )
    # when
    zbar = subprocess.run(
        ["zbarimg", "--quiet", "--raw", str(tmp_path / "page.png")],
        capture_output=True,
        text=True,
        check=False,
    )
    zxing = [r.text for r in zxingcpp.read_barcodes(Image.open(tmp_path / "page.png"))]
    # then: both decoders read the URL the file row recorded, and it verifies
    url = LicenseFile.objects.get(identifier=ident).qr_url
    assert (zbar.returncode, zbar.stdout.strip()) == (0, url)
    assert zxing == [url]
    page = anon.get(urlsplit(url).path)
    assert 'data-outcome="valid"' in page.content.decode()


def test_verify_command_reads_a_scanned_qr_url_offline(issuer, issued, anon, tmp_path, capsys):
    ident = issued["identifier"]
    url = issuer.post(f"/api/v1/licenses/{ident}/qr-token/").json()["url"]
    trust = tmp_path / "trust.json"
    trust.write_text(json.dumps(anon.get("/api/v1/public/trust-list").json()), encoding="utf-8")
    call_command("verify", url, "--trust-list", str(trust), "--json")
    result = json.loads(capsys.readouterr().out)
    assert (result["valid"], result["identifier"], result["version"]) == (True, ident, 1)
    assert result["issuer"] == issued["issuer_code"]
    # a forged one is not valid (exit status 1)
    forged = url[:-10] + ("0" if url[-10] != "0" else "1") + url[-9:]
    with pytest.raises(SystemExit) as exit_info:
        call_command("verify", forged, "--trust-list", str(trust), "--json")
    assert exit_info.value.code == 1
    assert json.loads(capsys.readouterr().out)["outcome"] == "forged"


def test_qr_expiry_window_is_the_types(issuer, issued, anon):
    ident = issued["identifier"]
    body = issuer.post(f"/api/v1/licenses/{ident}/qr-token/").json()
    days = License.objects.get(identifier=ident).license_type.qr_validity_days
    issued_at = dt.datetime.fromisoformat(body["issued_at"])
    expires_at = dt.datetime.fromisoformat(body["expires_at"])
    assert expires_at - issued_at == timedelta(days=days)
    answer = _verify(anon, body["token"])
    assert dt.datetime.fromisoformat(answer["qr_expires_at"]) == expires_at.replace(microsecond=0)
