"""The XML parts of an OFD package: elements in the OFD namespace, and the page's content."""

from __future__ import annotations

import base64
import datetime as dt
import math
from collections.abc import Mapping
from xml.etree import ElementTree as ET  # noqa: N817

from shared.crypto.ofd.model import (
    _FONT_FILE_NAME,
    _Q,
    PAGE_H_MM,
    PAGE_W_MM,
    SIGNATURE_XML,
    SIGNED_VALUE,
    OfdFont,
    OfdPage,
    OfdText,
)
from shared.crypto.ses import SM2_WITH_SM3, SM3_OID, sm3


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


def _ofd_xml(page: OfdPage, *, doc_id: str, created: dt.date) -> bytes:
    """OFD.xml: DocInfo (+ CustomDatas), DocRoot and Signatures."""
    ofd = _el(None, "OFD", Version="1.0", DocType="OFD")
    body = _el(ofd, "DocBody")
    info = _el(body, "DocInfo")
    _el(info, "DocID", doc_id)
    _el(info, "Title", page.title)
    _el(info, "Author", page.author)
    _el(info, "CreationDate", created.isoformat())
    _el(info, "Creator", page.creator)
    _el(info, "CreatorVersion", "1.0")
    if page.custom:
        customs = _el(info, "CustomDatas")
        for name, value in page.custom.items():
            _el(customs, "CustomData", value, Name=name)
    _el(body, "DocRoot", "Doc_0/Document.xml")
    _el(body, "Signatures", "Doc_0/Signs/Signatures.xml")
    return _xml(ofd)


def _public_res(font: OfdFont, *, font_id: int, files: dict[str, bytes]) -> bytes:
    """PublicRes.xml naming the font; its file (when embedded) is added to ``files``."""
    public = _el(None, "Res", BaseLoc="Res")
    fonts = _el(public, "Fonts")
    font_element = _el(
        fonts, "Font", ID=str(font_id), FontName=font.name, FamilyName=font.family or font.name
    )
    if font.data:
        file_name = f"{font.name if _FONT_FILE_NAME.fullmatch(font.name) else 'font_0'}.ttf"
        _el(font_element, "FontFile", file_name)
        files[f"Doc_0/Res/{file_name}"] = font.data
    return _xml(public)


def _document_res(page: OfdPage, *, image_ids: list[int], files: dict[str, bytes]) -> bytes:
    """DocumentRes.xml listing the images; their files are added to ``files``."""
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
    return _xml(resources)


def _document_xml(*, max_unit_id: int, page_id: int) -> bytes:
    """Document.xml: CommonData (A4 page area, the resources) and the one page."""
    document = _el(None, "Document")
    common = _el(document, "CommonData")
    _el(common, "MaxUnitID", str(max_unit_id))
    _el(_el(common, "PageArea"), "PhysicalBox", f"0 0 {PAGE_W_MM} {PAGE_H_MM}")
    _el(common, "PublicRes", "PublicRes.xml")
    _el(common, "DocumentRes", "DocumentRes.xml")
    _el(_el(document, "Pages"), "Page", ID=str(page_id), BaseLoc="Pages/Page_0/Content.xml")
    return _xml(document)


def _signatures_xml() -> bytes:
    """Signatures.xml: the list of the package's (one) signatures."""
    signatures = _el(None, "Signatures")
    _el(signatures, "MaxSignId", "1")
    _el(signatures, "Signature", ID="1", Type="Seal", BaseLoc="/" + SIGNATURE_XML)
    return _xml(signatures)


def _signature_xml(
    files: Mapping[str, bytes], *, provider: str, when: dt.datetime, page_id: int, seal_box: str
) -> bytes:
    """Signature.xml: SignedInfo with an SM3 reference to each of ``files``, and the StampAnnot."""
    signature = _el(None, "Signature")
    signed = _el(signature, "SignedInfo")
    _el(signed, "Provider", ProviderName=provider, Company=provider, Version="1.0")
    _el(signed, "SignatureMethod", SM2_WITH_SM3)
    _el(signed, "SignatureDateTime", _utc_text(when))
    references = _el(signed, "References", CheckMethod=SM3_OID)
    for name in sorted(files):
        reference = _el(references, "Reference", FileRef="/" + name)
        _el(reference, "CheckValue", base64.b64encode(sm3(files[name])).decode("ascii"))
    _el(signed, "StampAnnot", ID="1", PageRef=str(page_id), Boundary=seal_box)
    _el(signature, "SignedValue", "/" + SIGNED_VALUE)
    return _xml(signature)
