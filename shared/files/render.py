"""Rendering a licence to an A4 PDF page with reportlab (pure: no Django here).

The input is a `LicenseDocument`, a plain value built from the database by
`shared.files.documents`; the output is unsigned PDF bytes plus the rectangle where the seal
(the visible signature's widget, drawn by pyHanko) goes. The benchmark calls this module directly
to measure the bare cost of rendering.

The page is drawn from its plan (`shared.files.layout`: every line of text, checked to print
exactly), in the licence font (`shared.files.typeface`); both are exported here too.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

from reportlab import rl_config
from reportlab.lib.colors import Color
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas

from shared.crypto.qr import qr_matrix, qr_runs
from shared.files.layout import (
    QR_SIZE,
    SEAL_SIZE,
    LicenseDocument,
    PlacedText,
    UnprintableError,
    annotation_banner,
    page_check,
    page_plan,
)
from shared.files.typeface import (
    FONT_NAME,
    FontNotFoundError,
    find_cjk_font,
    missing_glyphs,
    register_font,
)

__all__ = [
    "FONT_NAME",
    "FontNotFoundError",
    "LicenseDocument",
    "PlacedText",
    "RenderedPage",
    "UnprintableError",
    "find_cjk_font",
    "missing_glyphs",
    "page_check",
    "page_plan",
    "register_font",
    "render_license_pdf",
]

PAGE_W, PAGE_H = A4
RED = Color(0.78, 0.08, 0.08)
INK = Color(0.12, 0.12, 0.14)
GREY = Color(0.35, 0.35, 0.38)
BLUE = Color(0.1, 0.25, 0.7)
ROLE_COLOURS = {"title": RED, "label": GREY, "ink": INK, "annotation": BLUE}

# Binary streams instead of ASCII85: smaller files, and no pure-Python encoding on the hot path.
rl_config.useA85 = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class RenderedPage:
    pdf: bytes
    seal_box: tuple[int, int, int, int]  # x1, y1, x2, y2 in PDF points


def _data_image(value: str | bytes | None) -> bytes | None:
    if not value:
        return None
    if isinstance(value, bytes):
        return value
    text = value.split(",", 1)[1] if value.startswith("data:") else value
    return base64.b64decode(text)


def _default_background(c: canvas.Canvas) -> None:
    """A plain certificate frame when the type has no 底图."""
    c.setStrokeColor(Color(0.62, 0.45, 0.18))
    c.setLineWidth(3)
    c.rect(12 * mm, 12 * mm, PAGE_W - 24 * mm, PAGE_H - 24 * mm)
    c.setLineWidth(0.8)
    c.rect(15 * mm, 15 * mm, PAGE_W - 30 * mm, PAGE_H - 30 * mm)


def _draw_qr(c: canvas.Canvas, data: str, x: float, y: float, size: float) -> None:
    matrix = qr_matrix(data)
    modules = len(matrix) + 8  # quiet zone of 4 modules each side
    unit = size / modules
    c.setFillColor(Color(1, 1, 1))
    c.rect(x, y, size, size, stroke=0, fill=1)
    c.setFillColor(Color(0, 0, 0))
    path = c.beginPath()
    top = y + size - 4 * unit
    for row, col, length in qr_runs(matrix):
        path.rect(x + (4 + col) * unit, top - (row + 1) * unit, length * unit, unit)
    c.drawPath(path, stroke=0, fill=1)


def _draw_watermark(c: canvas.Canvas, font: str, text: str, note: str) -> None:
    c.saveState()
    c.setFillColor(Color(0.85, 0.05, 0.05, alpha=0.35))
    c.translate(PAGE_W / 2, PAGE_H / 2)
    c.rotate(35)
    c.setFont(font, 96)
    c.drawCentredString(0, 0, text)
    if note:
        c.setFont(font, 18)
        c.drawCentredString(0, -40, note)
    c.restoreState()


def _draw_annotation_banner(c: canvas.Canvas, font: str, lines: list[str]) -> None:
    """加注件: the purpose repeated across the page, so no cut-out escapes it (a pattern; the
    footer lines of the plan carry the whole text)."""
    c.saveState()
    c.setFillColor(Color(0.1, 0.25, 0.7, alpha=0.22))
    c.setFont(font, 15)
    banner = annotation_banner(lines)
    for row in range(-2, 12):
        c.saveState()
        c.translate(0, row * 80 * mm / 1.2)
        c.rotate(25)
        c.drawString(10 * mm, 0, banner)
        c.restoreState()
    c.restoreState()


def _draw_text(c: canvas.Canvas, font: str, item: PlacedText) -> None:
    c.setFont(font, item.size)
    c.setFillColor(ROLE_COLOURS.get(item.role, INK))
    x, y = item.x * mm, PAGE_H - item.baseline * mm
    if item.align == "right":
        c.drawRightString(x, y, item.text)
    elif item.align == "center":
        c.drawCentredString(x, y, item.text)
    else:
        c.drawString(x, y, item.text)


def render_license_pdf(doc: LicenseDocument, *, font_path: str) -> RenderedPage:
    """One A4 page: background or scan, title, fields, identifier, QR; the seal box left free.

    Raises `UnprintableError` rather than print a page that shows less than ``doc``."""
    font = register_font(font_path)
    plan = page_check(doc, font_path=font_path)
    buffer = io.BytesIO()
    c = canvas.Canvas(
        buffer,
        pagesize=A4,
        pageCompression=1,
        initialFontName=font,  # type: ignore[arg-type]  # types-reportlab says a number; reportlab takes a font name
        initialFontSize=12,
    )
    c.setTitle(f"{doc.title} {doc.number}")
    c.setSubject(doc.identifier)
    c.setAuthor(doc.issuer_name)
    c.setCreator("河南省电子证照库")
    c.setKeywords(doc.subject_keywords)

    background = _data_image(doc.background)
    if doc.scan:
        # Legacy digitisation (art. 16): the scan is the page; our band sits below it.
        image = ImageReader(io.BytesIO(doc.scan))
        iw, ih = image.getSize()
        box_w, box_h = PAGE_W - 30 * mm, PAGE_H - 95 * mm
        scale = min(box_w / iw, box_h / ih)
        w, h = iw * scale, ih * scale
        c.drawImage(image, (PAGE_W - w) / 2, 80 * mm + (box_h - h) / 2, w, h)
    elif background:
        c.drawImage(ImageReader(io.BytesIO(background)), 0, 0, PAGE_W, PAGE_H)
    else:
        _default_background(c)

    # The band every licence carries: QR (bottom left), identifier, the seal box (bottom right).
    _draw_qr(c, doc.qr_url, 20 * mm, 22 * mm, QR_SIZE)
    if doc.annotation:
        _draw_annotation_banner(c, font, doc.annotation)
    for item in plan:
        _draw_text(c, font, item)
    if doc.watermark:
        _draw_watermark(c, font, doc.watermark, doc.watermark_note)
    c.showPage()
    c.save()
    x2, y1 = int(PAGE_W - 26 * mm), int(24 * mm)
    seal_box = (int(x2 - SEAL_SIZE), y1, x2, int(y1 + SEAL_SIZE))
    return RenderedPage(pdf=buffer.getvalue(), seal_box=seal_box)
