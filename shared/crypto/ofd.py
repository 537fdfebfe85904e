"""OFD packages (GB/T 33190) sealed with a GB/T 38540 e-seal (SM2/SM3), and their verification.

Pure (no Django). ``ofd_build`` takes one page of positioned text and images (millimetres, origin
top left, as OFD measures) and returns the ZIP:

    OFD.xml                           DocBody: DocInfo (+ CustomDatas), DocRoot, Signatures
    Doc_0/Document.xml                CommonData (PhysicalBox 210×297), PublicRes, DocumentRes, Pages
    Doc_0/PublicRes.xml               the font, with its FontFile
    Doc_0/Res/<FontName>.ttf          the font, subset to the glyphs the page uses (~10 KB)
    Doc_0/DocumentRes.xml             the images (MultiMedia) in Doc_0/Res/
    Doc_0/Pages/Page_0/Content.xml    TextObjects and ImageObjects
    Doc_0/Signs/Signatures.xml        the list of signatures
    Doc_0/Signs/Sign_0/Signature.xml  SignedInfo: References (SM3 of every other file), StampAnnot
    Doc_0/Signs/Sign_0/SignedValue.dat  DER SES_Signature (v4) over Signature.xml

The font travels in the package as in the PDF: a reader without the CJK font installed (easyofd,
a phone) draws the text with it; naming a font without embedding it gave a page with the QR code
and the seal and no text. Like every file, it is covered by the signature's references.
Dates written into the package (``CreationDate``, the ZIP entries' times) are in Asia/Shanghai,
the zone of every document the library makes; ``SignatureDateTime`` is UTC and says so (``Z``).

The seal picture is not a page object: it travels inside the ``SESeal`` and the ``StampAnnot``
places it, so a reader shows the seal only together with the signature it belongs to.

``ofd_verify`` opens a package and answers like ``verify_pdf`` (a ``FileCheck``): 0 when every
reference digest matches, no file is left unreferenced, ``dataHash`` = SM3(Signature.xml), the
SES_Signature verifies with its certificate's SM2 key, the seal verifies with its maker's key,
the signer is one of the seal's certificates, and both certificates chain to a trusted SM2 root;
1 with a reason word otherwise; 2 when the data is not an OFD package.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import math
import re
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from xml.etree import ElementTree as ET  # noqa: N817
from zoneinfo import ZoneInfo

from shared.crypto import _sm2
from shared.crypto._sm2 import Sm2PrivateKey
from shared.crypto.pdfverify import FileCheck
from shared.crypto.ses import (
    SES_VERSION,
    SM2_WITH_SM3,
    SM3_OID,
    SES_Signature,
    seal_verify,
    signature_make,
    sm3,
)
from shared.crypto.sm2x509 import sm2_certificate_load, sm2_certificate_verify

__all__ = [
    "NS",
    "OfdFont",
    "OfdImage",
    "OfdPage",
    "OfdSigner",
    "OfdText",
    "is_ofd",
    "ofd_build",
    "ofd_verify",
]

NS = "http://www.ofdspec.org/2016"
_Q = "{" + NS + "}"
PAGE_W_MM, PAGE_H_MM = 210, 297
SIGNS_DIR = "Doc_0/Signs/"
SIGNATURE_XML = "Doc_0/Signs/Sign_0/Signature.xml"
SIGNED_VALUE = "Doc_0/Signs/Sign_0/SignedValue.dat"
MAX_ENTRIES = 200
MAX_UNCOMPRESSED = 64 * 1024 * 1024
_FONT_FILE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
DOCUMENT_ZONE = ZoneInfo("Asia/Shanghai")

ET.register_namespace("ofd", NS)


@dataclass(frozen=True, slots=True, kw_only=True)
class OfdText:
    x: float
    y: float  # top of the text box, from the top of the page (mm)
    text: str
    size: float  # font size in mm
    color: tuple[int, int, int] = (30, 30, 36)
    alpha: int = 255
    rotate: float = 0.0  # degrees, counter-clockwise about the box's top-left corner
    align: str = "left"  # left | center | right (x is then the centre / the right edge)


@dataclass(frozen=True, slots=True, kw_only=True)
class OfdImage:
    x: float
    y: float
    width: float
    height: float
    png: bytes  # PNG, or JPEG (recognised by its magic bytes)


@dataclass(frozen=True, slots=True, kw_only=True)
class OfdPage:
    title: str
    author: str
    texts: list[OfdText]
    images: list[OfdImage] = field(default_factory=list)
    custom: dict[str, str] = field(default_factory=dict)  # DocInfo CustomDatas (identifier, …)
    seal_box: tuple[float, float, float, float] = (140.0, 220.0, 42.0, 42.0)  # x, y, w, h mm
    creator: str = "河南省电子证照库"


@dataclass(frozen=True, slots=True, kw_only=True)
class OfdFont:
    """The page's font: a name, and the TrueType file embedded in the package (empty: named
    only, which a reader without that font installed cannot draw).

    ``name`` (``FontName``) has no spaces and names the file too (``<name>.ttf``): easyofd
    registers an embedded font under its file's name and looks it up by ``FontName``.
    """

    name: str
    family: str = ""  # FamilyName, e.g. "WenQuanYi Micro Hei"; default: the name
    data: bytes = b""
    advances: Mapping[str, float] = field(default_factory=dict)  # per character, in em


@dataclass(frozen=True, slots=True, kw_only=True)
class OfdSigner:
    key: Sm2PrivateKey
    certificate: bytes  # DER of the signer's SM2 certificate
    seal: bytes  # DER SESeal naming that certificate
    provider: str = "河南省电子证照库"


def _el(parent: ET.Element | None, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = (
        ET.Element(_Q + tag, attrs) if parent is None else ET.SubElement(parent, _Q + tag, attrs)
    )
    if text is not None:
        element.text = text
    return element


def _xml(root: ET.Element) -> bytes:
    xml: bytes = ET.tostring(root, encoding="UTF-8", xml_declaration=True)
    return xml


def _num(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".") or "0"


def _advance(char: str, size: float, widths: Mapping[str, float]) -> float:
    """The font's own advance when it is known, else a CJK-square / Latin-narrow estimate."""
    width = widths.get(char)
    if width is not None:
        return size * width
    return size if ord(char) >= 0x2E80 else size * 0.55


def _text_object(
    parent: ET.Element,
    item: OfdText,
    *,
    object_id: int,
    font_id: int,
    widths: Mapping[str, float],
) -> None:
    advances = [_advance(ch, item.size, widths) for ch in item.text]
    width = sum(advances) or item.size
    height = item.size * 1.3
    left = item.x
    if item.align == "center":
        left = item.x - width / 2
    elif item.align == "right":
        left = item.x - width
    box = (left, item.y, width, height)
    ctm = ""
    if item.rotate:
        # Rotate about the text's centre; the boundary is a square that holds any rotation.
        angle = math.radians(-item.rotate)  # OFD's y axis points down
        cos, sin = math.cos(angle), math.sin(angle)
        half = math.hypot(width, height) / 2
        centre_x, centre_y = left + width / 2, item.y + height / 2
        box = (centre_x - half, centre_y - half, 2 * half, 2 * half)
        e = half - (cos * width / 2 - sin * height / 2)
        f = half - (sin * width / 2 + cos * height / 2)
        ctm = " ".join(_num(v) for v in (cos, sin, -sin, cos, e, f))
    attrs = {
        "ID": str(object_id),
        "Boundary": " ".join(_num(v) for v in box),
        "Font": str(font_id),
        "Size": _num(item.size),
    }
    if ctm:
        attrs["CTM"] = ctm
    if item.alpha != 255:
        attrs["Alpha"] = str(item.alpha)
    text = _el(parent, "TextObject", **attrs)
    _el(text, "FillColor", Value=" ".join(str(c) for c in item.color))
    code = _el(text, "TextCode", item.text, X="0", Y=_num(item.size))
    if len(advances) > 1:
        code.set("DeltaX", " ".join(_num(a) for a in advances[:-1]))


def _content(
    page: OfdPage,
    *,
    font_id: int,
    widths: Mapping[str, float],
    image_ids: list[int],
    next_id: int,
) -> tuple[bytes, int]:
    root = _el(None, "Page")
    layer = _el(_el(root, "Content"), "Layer", ID=str(next_id), Type="Body")
    next_id += 1
    for image, resource in zip(page.images, image_ids, strict=True):
        _el(
            layer,
            "ImageObject",
            ID=str(next_id),
            Boundary=" ".join(_num(v) for v in (image.x, image.y, image.width, image.height)),
            CTM=f"{_num(image.width)} 0 0 {_num(image.height)} 0 0",
            ResourceID=str(resource),
        )
        next_id += 1
    for item in page.texts:
        _text_object(layer, item, object_id=next_id, font_id=font_id, widths=widths)
        next_id += 1
    return _xml(root), next_id


def _utc_text(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y%m%d%H%M%SZ")


def ofd_build(
    page: OfdPage,
    *,
    font: OfdFont | None = None,
    font_name: str = "",
    signer: OfdSigner,
    when: dt.datetime,
    doc_id: str,
) -> bytes:
    """The sealed OFD package (ZIP bytes) for one A4 page.

    ``font`` is embedded (see ``shared.files.ofd_render.ofd_font`` for the subset); a bare
    ``font_name`` only names one. ``when`` must be timezone-aware (``ValueError``).
    """
    if when.utcoffset() is None:
        raise ValueError("when must be a timezone-aware datetime")
    font = font if font is not None else OfdFont(name=font_name)
    local = when.astimezone(DOCUMENT_ZONE)
    files: dict[str, bytes] = {}
    font_id, page_id = 1, 2
    image_ids = list(range(3, 3 + len(page.images)))
    next_id = 3 + len(page.images)

    ofd = _el(None, "OFD", Version="1.0", DocType="OFD")
    body = _el(ofd, "DocBody")
    info = _el(body, "DocInfo")
    _el(info, "DocID", doc_id)
    _el(info, "Title", page.title)
    _el(info, "Author", page.author)
    _el(info, "CreationDate", local.date().isoformat())
    _el(info, "Creator", page.creator)
    _el(info, "CreatorVersion", "1.0")
    if page.custom:
        customs = _el(info, "CustomDatas")
        for name, value in page.custom.items():
            _el(customs, "CustomData", value, Name=name)
    _el(body, "DocRoot", "Doc_0/Document.xml")
    _el(body, "Signatures", "Doc_0/Signs/Signatures.xml")
    files["OFD.xml"] = _xml(ofd)

    public = _el(None, "Res", BaseLoc="Res")
    fonts = _el(public, "Fonts")
    font_element = _el(
        fonts, "Font", ID=str(font_id), FontName=font.name, FamilyName=font.family or font.name
    )
    if font.data:
        file_name = f"{font.name if _FONT_FILE_NAME.fullmatch(font.name) else 'font_0'}.ttf"
        _el(font_element, "FontFile", file_name)
        files[f"Doc_0/Res/{file_name}"] = font.data
    files["Doc_0/PublicRes.xml"] = _xml(public)

    resources = _el(None, "Res", BaseLoc="Res")
    if page.images:
        medias = _el(resources, "MultiMedias")
        for index, (image, resource) in enumerate(zip(page.images, image_ids, strict=True)):
            jpeg = image.png.startswith(b"\xff\xd8")
            name = f"image_{index}.{'jpg' if jpeg else 'png'}"
            media = _el(
                medias,
                "MultiMedia",
                ID=str(resource),
                Type="Image",
                Format="JPEG" if jpeg else "PNG",
            )
            _el(media, "MediaFile", name)
            files[f"Doc_0/Res/{name}"] = image.png
    files["Doc_0/DocumentRes.xml"] = _xml(resources)

    content, next_id = _content(
        page, font_id=font_id, widths=font.advances, image_ids=image_ids, next_id=next_id
    )
    files["Doc_0/Pages/Page_0/Content.xml"] = content

    document = _el(None, "Document")
    common = _el(document, "CommonData")
    _el(common, "MaxUnitID", str(next_id))
    _el(_el(common, "PageArea"), "PhysicalBox", f"0 0 {PAGE_W_MM} {PAGE_H_MM}")
    _el(common, "PublicRes", "PublicRes.xml")
    _el(common, "DocumentRes", "DocumentRes.xml")
    _el(_el(document, "Pages"), "Page", ID=str(page_id), BaseLoc="Pages/Page_0/Content.xml")
    files["Doc_0/Document.xml"] = _xml(document)

    signatures = _el(None, "Signatures")
    _el(signatures, "MaxSignId", "1")
    _el(signatures, "Signature", ID="1", Type="Seal", BaseLoc="/" + SIGNATURE_XML)
    signatures_xml = _xml(signatures)

    signature = _el(None, "Signature")
    signed = _el(signature, "SignedInfo")
    _el(signed, "Provider", ProviderName=signer.provider, Company=signer.provider, Version="1.0")
    _el(signed, "SignatureMethod", SM2_WITH_SM3)
    _el(signed, "SignatureDateTime", _utc_text(when))
    references = _el(signed, "References", CheckMethod=SM3_OID)
    for name in sorted(files):
        reference = _el(references, "Reference", FileRef="/" + name)
        _el(reference, "CheckValue", base64.b64encode(sm3(files[name])).decode("ascii"))
    x, y, w, h = page.seal_box
    _el(
        signed,
        "StampAnnot",
        ID="1",
        PageRef=str(page_id),
        Boundary=" ".join(_num(v) for v in (x, y, w, h)),
    )
    _el(signature, "SignedValue", "/" + SIGNED_VALUE)
    signature_xml = _xml(signature)
    signed_value = signature_make(
        seal_der=signer.seal,
        data=signature_xml,
        property_info="/" + SIGNATURE_XML,
        key=signer.key,
        cert=signer.certificate,
        when=when,
    )
    files["Doc_0/Signs/Signatures.xml"] = signatures_xml
    files[SIGNATURE_XML] = signature_xml
    files[SIGNED_VALUE] = signed_value

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in ("OFD.xml", *sorted(n for n in files if n != "OFD.xml")):
            entry = zipfile.ZipInfo(name, date_time=local.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, files[name])
    return buffer.getvalue()


# --- verification ------------------------------------------------------------------------


class _Fail(Exception):
    def __init__(self, code: int, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.detail = detail


def is_ofd(data: bytes) -> bool:
    """Whether ``data`` looks like an OFD package (a ZIP with OFD.xml), without verifying it."""
    if not data.startswith(b"PK"):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "OFD.xml" in archive.namelist()
    except (zipfile.BadZipFile, ValueError, OSError):
        return False


def _parse(data: bytes, name: str) -> ET.Element:
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise _Fail(2, "damaged", f"{name}: DTD not allowed")
    try:
        return ET.fromstring(data)  # noqa: S314 - no DTD (checked above), so no entity tricks
    except ET.ParseError as exc:
        raise _Fail(2, "damaged", f"{name}: {exc}") from None


def _read_all(data: bytes) -> dict[str, bytes]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError):
        raise _Fail(2, "not_ofd") from None
    with archive:
        entries = [e for e in archive.infolist() if not e.is_dir()]
        if len(entries) > MAX_ENTRIES or sum(e.file_size for e in entries) > MAX_UNCOMPRESSED:
            raise _Fail(2, "damaged", "package too large")
        files: dict[str, bytes] = {}
        for entry in entries:
            try:
                files[entry.filename] = archive.read(entry)
            except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
                raise _Fail(2, "damaged", f"{entry.filename}: {exc}") from None
    if "OFD.xml" not in files:
        raise _Fail(2, "not_ofd")
    return files


def _path(ref: str) -> str:
    return ref.strip().lstrip("/")


def _find_text(element: ET.Element, path: str) -> str:
    found = element.find(path)
    return (found.text or "").strip() if found is not None else ""


def ofd_verify(
    data: bytes, *, trust_roots: Sequence[bytes], now: dt.datetime | None = None
) -> FileCheck:
    """Verify the first signature of an OFD package against DER SM2 root certificates."""
    metadata: dict[str, str] = {}
    try:
        files = _read_all(data)
        ofd = _parse(files["OFD.xml"], "OFD.xml")
        body = ofd.find(_Q + "DocBody")
        if body is None:
            raise _Fail(2, "damaged", "no DocBody")
        for custom in body.iter(_Q + "CustomData"):
            metadata[custom.get("Name", "")] = (custom.text or "").strip()
        signatures_ref = _find_text(body, _Q + "Signatures")
        if not signatures_ref or _path(signatures_ref) not in files:
            raise _Fail(1, "unsigned")
        signatures = _parse(files[_path(signatures_ref)], signatures_ref)
        first = signatures.find(_Q + "Signature")
        if first is None or _path(first.get("BaseLoc", "")) not in files:
            raise _Fail(1, "unsigned")
        signature_name = _path(first.get("BaseLoc", ""))
        signature_xml = files[signature_name]
        signature = _parse(signature_xml, signature_name)
        signed_info = signature.find(_Q + "SignedInfo")
        value_ref = _path(_find_text(signature, _Q + "SignedValue"))
        if signed_info is None or value_ref not in files:
            raise _Fail(1, "unsigned")
        result = _check(files, signed_info, signature_xml, files[value_ref], trust_roots, now)
    except _Fail as fail:
        return FileCheck(
            code=fail.code,
            reason=fail.reason,
            identifier=metadata.get("identifier", "") if fail.code == 1 else "",
            metadata={**metadata, "detail": fail.detail} if fail.detail else metadata,
        )
    signer, fingerprint, signing_time = result
    return FileCheck(
        code=0,
        reason="ok",
        identifier=metadata.get("identifier", ""),
        metadata=metadata,
        signer=signer,
        signer_fingerprint=fingerprint,
        signing_time=signing_time,
        signatures=1,
    )


def _check(
    files: dict[str, bytes],
    signed_info: ET.Element,
    signature_xml: bytes,
    signed_value: bytes,
    trust_roots: Sequence[bytes],
    now: dt.datetime | None,
) -> tuple[str, str, dt.datetime]:
    # 1. Every file but the signature files is referenced, and every digest matches.
    if _find_text(signed_info, _Q + "SignatureMethod") != SM2_WITH_SM3:
        raise _Fail(1, "unsupported_algorithm")
    references = signed_info.find(_Q + "References")
    if references is None or references.get("CheckMethod") != SM3_OID:
        raise _Fail(1, "unsupported_algorithm")
    referenced: set[str] = set()
    for reference in references.findall(_Q + "Reference"):
        name = _path(reference.get("FileRef", ""))
        if name not in files:
            raise _Fail(1, "altered", f"missing {name}")
        try:
            expected = base64.b64decode(_find_text(reference, _Q + "CheckValue"), validate=True)
        except ValueError:
            raise _Fail(1, "altered", f"bad digest of {name}") from None
        if sm3(files[name]) != expected:
            raise _Fail(1, "altered", f"digest mismatch: {name}")
        referenced.add(name)
    unreferenced = sorted(n for n in files if n not in referenced and not n.startswith(SIGNS_DIR))
    if unreferenced:
        raise _Fail(1, "altered", f"not covered: {', '.join(unreferenced)}")

    # 2. The SES_Signature: structure, version, dataHash, the signer's SM2 signature.
    try:
        ses = SES_Signature.load(signed_value, strict=True)
        tbs = ses["toSign"]
        version = tbs["version"].native
        data_hash = bytes(tbs["dataHash"].native)
        signing_time: dt.datetime = tbs["timeInfo"].native
        seal = tbs["eseal"]
        signer_der = bytes(ses["cert"].native)
        algorithm = ses["signatureAlgID"].dotted
        signature_value = bytes(ses["signature"].native)
        tbs_der = tbs.dump()
        seal_property = seal["eSealInfo"]["property"]
        seal_certs = [bytes(c.native) for c in seal_property["certList"]]
        valid_start = seal_property["validStart"].native
        valid_end = seal_property["validEnd"].native
        maker_der = bytes(seal["cert"].native)
    except Exception as exc:  # noqa: BLE001 - asn1crypto raises many types on garbage
        raise _Fail(1, "bad_signature_value", str(exc)[:200]) from None
    if version != SES_VERSION:
        raise _Fail(1, "bad_signature_value", f"version {version}")
    if data_hash != sm3(signature_xml):
        raise _Fail(1, "altered", "dataHash is not SM3(Signature.xml)")
    if algorithm != SM2_WITH_SM3:
        raise _Fail(1, "unsupported_algorithm")
    try:
        signer = sm2_certificate_load(signer_der)
        maker = sm2_certificate_load(maker_der)
    except ValueError:
        raise _Fail(1, "bad_certificate") from None
    if not _sm2.verify(signer.public_key, signature_value, tbs_der):
        raise _Fail(1, "bad_signature")

    # 3. The seal: its maker's signature, the signer is one of its certificates, its validity.
    if not seal_verify(seal, maker.public_key):
        raise _Fail(1, "bad_seal")
    if signer_der not in seal_certs:
        raise _Fail(1, "seal_signer_mismatch")
    if not valid_start <= signing_time <= valid_end:
        raise _Fail(1, "seal_expired")

    # 4. Both certificates chain to a trusted SM2 root (valid when the file was signed).
    for cert in (signer, maker):
        if not any(sm2_certificate_verify(cert.der, root, at=signing_time) for root in trust_roots):
            raise _Fail(1, "untrusted", cert.subject)
    if now is not None and signing_time > now + dt.timedelta(minutes=10):
        raise _Fail(1, "bad_signature_value", "signed in the future")
    return signer.common_name or signer.subject, signer.fingerprint, signing_time
