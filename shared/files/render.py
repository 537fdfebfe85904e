"""Rendering a licence to an A4 PDF page with reportlab (pure: no Django here).

The input is a `LicenseDocument`, a plain value built from the database by
`shared.files.documents`; the output is unsigned PDF bytes plus the rectangle where the seal
(the visible signature's widget, drawn by pyHanko) goes. The benchmark calls this module directly
to measure the bare cost of rendering.

Fonts: reportlab embeds (subsets) TrueType fonts only; the built-in `STSong-Light` is not
embedded and Noto CJK (CFF outlines) cannot be loaded (FIELD-NOTES), so a TrueType CJK font is
required: `FILES_CJK_FONT` or what `fc-match` finds for WenQuanYi Micro Hei.
"""

from __future__ import annotations

import base64
import functools
import io
import shutil
import subprocess
from dataclasses import dataclass, field

from reportlab import rl_config
from reportlab.lib.colors import Color
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from shared.crypto.qr import qr_matrix, qr_runs

__all__ = [
    "FONT_NAME",
    "LicenseDocument",
    "RenderedPage",
    "find_cjk_font",
    "register_font",
    "render_license_pdf",
]

FONT_NAME = "LicenseCJK"
FONT_CANDIDATES = ("WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "AR PL UMing CN")
PAGE_W, PAGE_H = A4
SEAL_SIZE = 42 * mm
QR_SIZE = 36 * mm
RED = Color(0.78, 0.08, 0.08)
INK = Color(0.12, 0.12, 0.14)

# Binary streams instead of ASCII85: smaller files, and no pure-Python encoding on the hot path.
rl_config.useA85 = 0


class FontNotFoundError(RuntimeError):
    """No TrueType CJK font is installed (run deploy/system-packages.sh)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LicenseDocument:
    """Everything printed on a licence page; built from the database, rendered without it."""

    title: str
    identifier: str
    number: str
    fields: list[tuple[str, str]]
    issuer_name: str
    issue_date: str
    qr_url: str
    qr_caption: str = ""
    subject_keywords: str = ""
    watermark: str = ""  # e.g. "已吊销"; empty for a licence in force
    watermark_note: str = ""
    annotation: list[str] = field(default_factory=list)  # 加注件: purpose, agency, expiry
    background: bytes | None = None  # 底图 (PNG/JPEG), drawn over the whole page
    scan: bytes | None = None  # legacy digitisation: the scanned paper licence
    layout: dict = field(default_factory=dict)  # template field positions (mm), see below


@dataclass(frozen=True, slots=True, kw_only=True)
class RenderedPage:
    pdf: bytes
    seal_box: tuple[int, int, int, int]  # x1, y1, x2, y2 in PDF points


def find_cjk_font(configured: str = "") -> str:
    """The path of a TrueType CJK font: ``configured`` if given, else what fontconfig finds."""
    if configured:
        return configured
    fc_match = shutil.which("fc-match")
    if fc_match:
        for family in FONT_CANDIDATES:
            found = subprocess.run(  # noqa: S603 - fixed program, fixed arguments
                [fc_match, "-f", "%{file}", family], capture_output=True, text=True, check=False
            ).stdout.strip()
            if found.lower().endswith((".ttf", ".ttc")) and (
                "wqy" in found.lower() or "uming" in found.lower()
            ):
                return found
    raise FontNotFoundError("未找到可嵌入的中文 TrueType 字体，请运行 deploy/system-packages.sh")


@functools.cache
def register_font(path: str) -> str:
    """Register the CJK font once per process (parsing a 5 MB TTC costs ~100 ms)."""
    pdfmetrics.registerFont(TTFont(FONT_NAME, path, subfontIndex=0))
    return FONT_NAME


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


def _draw_annotation(c: canvas.Canvas, font: str, lines: list[str]) -> None:
    """加注件: the purpose repeated across the page, so no cut-out escapes it, and a footer."""
    c.saveState()
    c.setFillColor(Color(0.1, 0.25, 0.7, alpha=0.22))
    c.setFont(font, 15)
    banner = "　".join(lines[:2])
    for row in range(-2, 12):
        c.saveState()
        c.translate(0, row * 80 * mm / 1.2)
        c.rotate(25)
        c.drawString(10 * mm, 0, banner)
        c.restoreState()
    c.restoreState()
    c.setFillColor(Color(0.1, 0.25, 0.7))
    c.setFont(font, 9)
    for i, line in enumerate(lines):
        c.drawString(20 * mm, 62 * mm - i * 4.5 * mm, line)


def render_license_pdf(doc: LicenseDocument, *, font_path: str) -> RenderedPage:
    """One A4 page: background or scan, title, fields, identifier, QR; the seal box left free."""
    font = register_font(font_path)
    buffer = io.BytesIO()
    c = canvas.Canvas(
        buffer, pagesize=A4, pageCompression=1, initialFontName=font, initialFontSize=12
    )
    c.setTitle(f"{doc.title} {doc.number}")
    c.setSubject(doc.identifier)
    c.setAuthor(doc.issuer_name)
    c.setCreator("河南省电子证照库")
    c.setKeywords(doc.subject_keywords)
    layout = doc.layout or {}

    background = _data_image(doc.background)
    if doc.scan:
        # Legacy digitisation (art. 16): the scan is the page; our band sits below it.
        image = ImageReader(io.BytesIO(doc.scan))
        iw, ih = image.getSize()
        box_w, box_h = PAGE_W - 30 * mm, PAGE_H - 95 * mm
        scale = min(box_w / iw, box_h / ih)
        w, h = iw * scale, ih * scale
        c.drawImage(image, (PAGE_W - w) / 2, 80 * mm + (box_h - h) / 2, w, h)
        c.setFillColor(INK)
        c.setFont(font, 10)
        c.drawString(20 * mm, 74 * mm, f"{doc.title}（存量证照电子化）　证照编号：{doc.number}")
    else:
        if background:
            c.drawImage(ImageReader(io.BytesIO(background)), 0, 0, PAGE_W, PAGE_H)
        else:
            _default_background(c)
        c.setFillColor(RED)
        c.setFont(font, float(layout.get("title_size", 30)))
        c.drawCentredString(PAGE_W / 2, PAGE_H - float(layout.get("title_y", 52)) * mm, doc.title)
        c.setFillColor(INK)
        c.setFont(font, 11)
        c.drawRightString(PAGE_W - 22 * mm, PAGE_H - 30 * mm, f"编号：{doc.number}")
        x = float(layout.get("fields_x", 28)) * mm
        y = PAGE_H - float(layout.get("fields_y", 80)) * mm
        step = float(layout.get("line_height", 11)) * mm
        size = float(layout.get("font_size", 13))
        positions = layout.get("positions", {})
        for label, value in doc.fields:
            if label in positions:  # a template may pin a field where its 底图 expects it
                px, py = positions[label]
                c.setFont(font, size)
                c.drawString(float(px) * mm, PAGE_H - float(py) * mm, value)
                continue
            c.setFont(font, size)
            c.setFillColor(Color(0.35, 0.35, 0.38))
            c.drawString(x, y, f"{label}")
            c.setFillColor(INK)
            c.drawString(x + 42 * mm, y, value[:44])
            y -= step
        c.setFont(font, 12)
        c.drawRightString(PAGE_W - 30 * mm, 75 * mm, doc.issuer_name)
        c.drawRightString(PAGE_W - 30 * mm, 68 * mm, doc.issue_date)

    # The band every licence carries: QR (bottom left), identifier, the seal box (bottom right).
    _draw_qr(c, doc.qr_url, 20 * mm, 22 * mm, QR_SIZE)
    c.setFillColor(INK)
    c.setFont(font, 7.5)
    c.drawString(20 * mm, 18 * mm, f"证照标识：{doc.identifier}")
    if doc.qr_caption:
        c.drawString(20 * mm + QR_SIZE + 3 * mm, 24 * mm, doc.qr_caption)
    if doc.watermark:
        _draw_watermark(c, font, doc.watermark, doc.watermark_note)
    if doc.annotation:
        _draw_annotation(c, font, doc.annotation)
    c.showPage()
    c.save()
    x2, y1 = int(PAGE_W - 26 * mm), int(24 * mm)
    seal_box = (int(x2 - SEAL_SIZE), y1, x2, int(y1 + SEAL_SIZE))
    return RenderedPage(pdf=buffer.getvalue(), seal_box=seal_box)
