"""A licence page as OFD objects (pure: no Django), laid out like the PDF of `render.py`.

`license_ofd_page` turns the same `LicenseDocument` the PDF renderer draws into an `OfdPage`:
TextObjects for the title, number, fields, issuer, dates and identifier, ImageObjects for the
QR code (the PNG of the same URL as the PDF's) and the 底图 or legacy scan, and the watermark
text of a revoked, annulled or cancelled version. OFD measures in millimetres from the top-left
corner; reportlab in points from the bottom-left, hence the conversions.
"""

from __future__ import annotations

import io
import math

from shared.crypto.ofd import OfdImage, OfdPage, OfdText
from shared.crypto.qr import qr_png
from shared.files.render import LicenseDocument, _data_image

__all__ = ["SEAL_BOX_MM", "license_ofd_page"]

PAGE_W, PAGE_H = 210.0, 297.0
PT = 25.4 / 72  # one point in millimetres
INK = (31, 31, 36)
GREY = (89, 89, 97)
RED = (199, 20, 20)
QR_MM = 36.0
SEAL_MM = 42.0
NOTE_OFFSET = 24.0  # mm between the watermark word's centre and its note's
# Where the seal goes (x, y, w, h in mm from the top left): the PDF's seal box.
SEAL_BOX_MM = (PAGE_W - 26 - SEAL_MM, PAGE_H - 24 - SEAL_MM, SEAL_MM, SEAL_MM)


def _text(x: float, baseline: float, text: str, size_pt: float, **kwargs: object) -> OfdText:
    """Text whose baseline sits `baseline` mm from the top (as reportlab's drawString)."""
    size = size_pt * PT
    return OfdText(x=x, y=baseline - size, text=text, size=size, **kwargs)  # type: ignore[arg-type]


def _image_size(data: bytes) -> tuple[int, int]:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return image.size


def license_ofd_page(doc: LicenseDocument) -> OfdPage:
    layout = doc.layout or {}
    texts: list[OfdText] = []
    images: list[OfdImage] = []
    if doc.scan:
        iw, ih = _image_size(doc.scan)
        box_w, box_h = PAGE_W - 30, PAGE_H - 95
        scale = min(box_w / iw, box_h / ih)
        w, h = iw * scale, ih * scale
        images.append(
            OfdImage(x=(PAGE_W - w) / 2, y=15 + (box_h - h) / 2, width=w, height=h, png=doc.scan)
        )
        texts.append(
            _text(20, PAGE_H - 74, f"{doc.title}（存量证照电子化）　证照编号：{doc.number}", 10)
        )
    else:
        background = _data_image(doc.background)
        if background:
            images.append(OfdImage(x=0, y=0, width=PAGE_W, height=PAGE_H, png=background))
        title_size = float(layout.get("title_size", 30))
        texts.append(
            _text(
                PAGE_W / 2,
                float(layout.get("title_y", 52)),
                doc.title,
                title_size,
                color=RED,
                align="center",
            )
        )
        texts.append(_text(PAGE_W - 22, 30, f"编号：{doc.number}", 11, color=INK, align="right"))
        x = float(layout.get("fields_x", 28))
        y = float(layout.get("fields_y", 80))
        step = float(layout.get("line_height", 11))
        size = float(layout.get("font_size", 13))
        positions = layout.get("positions", {})
        for label, value in doc.fields:
            if label in positions:
                px, py = positions[label]
                texts.append(_text(float(px), float(py), value, size, color=INK))
                continue
            texts.append(_text(x, y, label, size, color=GREY))
            texts.append(_text(x + 42, y, value[:44], size, color=INK))
            y += step
        texts.append(_text(PAGE_W - 30, PAGE_H - 75, doc.issuer_name, 12, color=INK, align="right"))
        texts.append(_text(PAGE_W - 30, PAGE_H - 68, doc.issue_date, 12, color=INK, align="right"))
    images.append(
        OfdImage(x=20, y=PAGE_H - 22 - QR_MM, width=QR_MM, height=QR_MM, png=qr_png(doc.qr_url))
    )
    texts.append(_text(20, PAGE_H - 18, f"证照标识：{doc.identifier}", 7.5, color=INK))
    if doc.qr_caption:
        texts.append(_text(20 + QR_MM + 3, PAGE_H - 24, doc.qr_caption, 7.5, color=INK))
    if doc.watermark:
        red = (217, 13, 13)
        texts.append(
            OfdText(
                x=PAGE_W / 2,
                y=PAGE_H / 2 - 96 * PT / 2,
                text=doc.watermark,
                size=96 * PT,
                color=red,
                alpha=89,
                rotate=35,
                align="center",
            )
        )
        if doc.watermark_note:
            texts.append(
                OfdText(  # below the big word, along the rotated line (as in the PDF)
                    x=PAGE_W / 2 + NOTE_OFFSET * math.sin(math.radians(35)),
                    y=PAGE_H / 2 + NOTE_OFFSET * math.cos(math.radians(35)),
                    text=doc.watermark_note,
                    size=18 * PT,
                    color=red,
                    alpha=89,
                    rotate=35,
                    align="center",
                )
            )
    for i, line in enumerate(doc.annotation):
        texts.append(_text(20, PAGE_H - 62 + i * 4.5, line, 9, color=(26, 64, 179)))
    metadata = dict(item.split("=", 1) for item in doc.subject_keywords.split(";") if "=" in item)
    return OfdPage(
        title=f"{doc.title} {doc.number}",
        author=doc.issuer_name,
        texts=texts,
        images=images,
        custom=metadata,
        seal_box=SEAL_BOX_MM,
    )
