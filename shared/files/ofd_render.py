"""A licence page as OFD objects (pure: no Django), laid out like the PDF of `render.py`.

`license_ofd_page` turns the same `LicenseDocument` the PDF renderer draws into an `OfdPage`:
TextObjects for the title, number, fields, issuer, dates and identifier, ImageObjects for the
QR code (the PNG of the same URL as the PDF's) and the 底图 or legacy scan, and the watermark
text of a revoked, annulled or cancelled version. OFD measures in millimetres from the top-left
corner; reportlab in points from the bottom-left, hence the conversions.

`ofd_font` subsets the PDF's TrueType CJK font to the characters of one page with fontTools, so
the OFD carries its font as the PDF does (about 10 KB instead of a 5 MB collection).
"""

from __future__ import annotations

import io
import logging
import math

from fontTools import subset
from fontTools.ttLib import TTFont

from shared.crypto.ofd import OfdFont, OfdImage, OfdPage, OfdText
from shared.crypto.qr import qr_png
from shared.files.render import LicenseDocument, PlacedText, _data_image, page_check

__all__ = ["SEAL_BOX_MM", "license_ofd_page", "ofd_font", "page_characters"]

# fontTools' subsetter logs every glyph list at INFO: one OFD would fill a worker's log.
logging.getLogger("fontTools").setLevel(logging.WARNING)

PAGE_W, PAGE_H = 210.0, 297.0
PT = 25.4 / 72  # one point in millimetres
INK = (31, 31, 36)
GREY = (89, 89, 97)
RED = (199, 20, 20)
BLUE = (26, 64, 179)
ROLE_INK = {"title": RED, "label": GREY, "ink": INK, "annotation": BLUE}
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


def _placed(item: PlacedText) -> OfdText:
    colour = ROLE_INK.get(item.role, INK)
    return _text(item.x, item.baseline, item.text, item.size, color=colour, align=item.align)


def license_ofd_page(doc: LicenseDocument, *, font_path: str) -> OfdPage:
    """The OFD page of ``doc``: every line of text from the PDF's own plan (`page_check`), so
    both files print the same wrapped, fitted text or neither is made (`UnprintableError`)."""
    plan = page_check(doc, font_path=font_path)
    texts: list[OfdText] = [_placed(item) for item in plan]
    images: list[OfdImage] = []
    if doc.scan:
        iw, ih = _image_size(doc.scan)
        box_w, box_h = PAGE_W - 30, PAGE_H - 95
        scale = min(box_w / iw, box_h / ih)
        w, h = iw * scale, ih * scale
        images.append(
            OfdImage(x=(PAGE_W - w) / 2, y=15 + (box_h - h) / 2, width=w, height=h, png=doc.scan)
        )
    else:
        background = _data_image(doc.background)
        if background:
            images.append(OfdImage(x=0, y=0, width=PAGE_W, height=PAGE_H, png=background))
    images.append(
        OfdImage(x=20, y=PAGE_H - 22 - QR_MM, width=QR_MM, height=QR_MM, png=qr_png(doc.qr_url))
    )
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
    metadata = dict(item.split("=", 1) for item in doc.subject_keywords.split(";") if "=" in item)
    return OfdPage(
        title=f"{doc.title} {doc.number}",
        author=doc.issuer_name,
        texts=texts,
        images=images,
        custom=metadata,
        seal_box=SEAL_BOX_MM,
    )


def page_characters(page: OfdPage) -> str:
    """Every character the page's text objects draw, each once, in code-point order."""
    return "".join(sorted({char for item in page.texts for char in item.text}))


def ofd_font(path: str, page: OfdPage) -> OfdFont:
    """The font at ``path`` (TrueType, or the first face of a collection) subset to the glyphs
    ``page`` uses, with their advance widths. Named by the font's own family name: without
    spaces as ``FontName`` (and the file's name), as written as ``FamilyName``.

    Deterministic: the same font and page give the same bytes (the ``head`` timestamp is not
    renewed), so two builds of one document embed one font file.
    """
    font = TTFont(path, fontNumber=0, recalcTimestamp=False)
    family = font["name"].getBestFamilyName() or "LicenseCJK"
    options = subset.Options()
    options.notdef_outline = True  # a missing character shows as a box, not as nothing
    options.layout_features = []
    options.hinting = False
    options.drop_tables += ["FFTM", "DSIG"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=page_characters(page))
    subsetter.subset(font)
    buffer = io.BytesIO()
    font.save(buffer)
    units = font["head"].unitsPerEm
    cmap = font.getBestCmap() or {}
    metrics = font["hmtx"].metrics
    advances = {
        chr(code): metrics[glyph][0] / units for code, glyph in cmap.items() if glyph in metrics
    }
    name = "".join(family.split())
    return OfdFont(name=name, family=family, data=buffer.getvalue(), advances=advances)
