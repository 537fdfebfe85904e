"""Rendering a licence to an A4 PDF page with reportlab (pure: no Django here).

The input is a `LicenseDocument`, a plain value built from the database by
`shared.files.documents`; the output is unsigned PDF bytes plus the rectangle where the seal
(the visible signature's widget, drawn by pyHanko) goes. The benchmark calls this module directly
to measure the bare cost of rendering.

Fonts: reportlab embeds (subsets) TrueType fonts only; the built-in `STSong-Light` is not
embedded and Noto CJK (CFF outlines) cannot be loaded (FIELD-NOTES), so a TrueType CJK font is
required: `FILES_CJK_FONT` or what `fc-match` finds for WenQuanYi Micro Hei.

Faithful printing: the signed file must show exactly the data. `page_plan` lays out every line
of text (the OFD renderer draws the same plan): a value too wide for its box is wrapped onto
more lines, a title, number or issuer name is set smaller until it fits, and the field block is
set smaller until it fits above the issuer's name. What still cannot be printed whole, and any
character the font has no glyph for (it would print as an empty box or nothing), raises
`UnprintableError`: at issue time (`page_check`), so the clerk can correct the data, and again
at render time, so no file ever shows less than its data.
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
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.pdfgen import canvas

from shared.core.errors import PermanentError
from shared.crypto.qr import qr_matrix, qr_runs

__all__ = [
    "FONT_NAME",
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

FONT_NAME = "LicenseCJK"
FONT_CANDIDATES = ("WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "AR PL UMing CN")
PAGE_W, PAGE_H = A4
SEAL_SIZE = 42 * mm
QR_SIZE = 36 * mm
RED = Color(0.78, 0.08, 0.08)
INK = Color(0.12, 0.12, 0.14)
GREY = Color(0.35, 0.35, 0.38)
BLUE = Color(0.1, 0.25, 0.7)
ROLE_COLOURS = {"title": RED, "label": GREY, "ink": INK, "annotation": BLUE}
PT_MM = 25.4 / 72  # one point in millimetres
PAGE_W_MM, PAGE_H_MM = 210.0, 297.0
MIN_SIZE = 6.0  # points: the smallest text set to make a value fit
LEADING = 1.35  # line advance within a wrapped value, in font sizes

# Binary streams instead of ASCII85: smaller files, and no pure-Python encoding on the hot path.
rl_config.useA85 = 0


class FontNotFoundError(RuntimeError):
    """No TrueType CJK font is installed (run deploy/system-packages.sh)."""


class UnprintableError(PermanentError):
    """The page cannot show the data exactly (a missing glyph, a text that does not fit):
    refused, never printed differently. ``detail`` names the characters or the field."""


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
class PlacedText:
    """One line of text as both renderers draw it.

    ``x`` and ``baseline`` are millimetres from the page's top-left corner (OFD's frame; the
    PDF converts), ``size`` is in points, ``align`` is left / right / center (``x`` is then the
    right edge / the centre), ``role`` picks the colour (title, label, ink, annotation) and
    ``source`` says what the text shows (a field's label, ``title``, …) for error details.
    """

    x: float
    baseline: float
    text: str
    size: float
    align: str = "left"
    role: str = "ink"
    source: str = ""


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
    """Register the CJK font once per process (parsing a 5 MB TTC costs ~100 ms);
    `FontNotFoundError` when ``path`` is not a font that can be loaded."""
    try:
        pdfmetrics.registerFont(TTFont(FONT_NAME, path, subfontIndex=0))
    except (OSError, TTFError) as exc:
        raise FontNotFoundError(f"无法加载中文字体 {path}：{exc}") from exc
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


def annotation_banner(lines: list[str]) -> str:
    return "　".join(lines[:2])


# --- layout: every line of text, for the PDF and the OFD alike ------------------------------


def _width_mm(text: str, font: str, size: float) -> float:
    return pdfmetrics.stringWidth(text, font, size) * PT_MM


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Lines of at most ``width`` mm that together are ``text`` (nothing dropped): broken
    after the last space of a line when there is one (Latin words stay whole), else between
    any two characters (Chinese needs no spaces); a line feed in the text is a break."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        if _width_mm(paragraph, font, size) <= width:  # the common case: one line
            lines.append(paragraph)
            continue
        line = ""
        for char in paragraph:
            if line and _width_mm(line + char, font, size) > width:
                cut = line.rfind(" ")
                if 0 < cut < len(line) - 1 and not char.isspace():
                    lines.append(line[: cut + 1])
                    line = line[cut + 1 :]
                else:
                    lines.append(line)
                    line = ""
            line += char
        lines.append(line)
    return lines


def _template_invalid(key: str) -> UnprintableError:
    return UnprintableError(
        "file.template_invalid",
        f"证照类型模板的版式参数“{key}”无效，无法生成证照文件，请联系目录管理员修正模板",
        {"layout": key},
    )


def _num(layout: dict, key: str, default: float, *, low: float = 0.0) -> float:
    """A layout number from the catalogue's template (data, edited by people)."""
    try:
        value = float(layout.get(key, default))
    except (TypeError, ValueError):
        raise _template_invalid(key) from None
    if not low <= value <= 1000:  # also NaN
        raise _template_invalid(key)
    return value


def _position(positions: dict, label: str) -> tuple[float, float]:
    try:
        px, py = (float(v) for v in positions[label])
    except (TypeError, ValueError):
        raise _template_invalid(f"positions.{label}") from None
    if not (0 <= px <= PAGE_W_MM and 0 <= py <= PAGE_H_MM):
        raise _template_invalid(f"positions.{label}")
    return px, py


def _overflow(source: str, text: str) -> UnprintableError:
    return UnprintableError(
        "file.text_overflow",
        f"“{source}”的内容过长，无法在证照页面上完整打印，请精简后重新提交",
        {"field": source, "length": len(text)},
    )


def _fit_line(text: str, font: str, *, size: float, width: float, source: str) -> tuple[float, str]:
    """One line set at ``size`` or smaller (down to `MIN_SIZE`) so that it fits ``width``."""
    while _width_mm(text, font, size) > width:
        if size <= MIN_SIZE:
            raise _overflow(source, text)
        size = max(MIN_SIZE, size * 0.9)
    return size, text


def _field_rows(
    doc: LicenseDocument, font: str, *, scale: float, bottom: float
) -> list[PlacedText] | None:
    """The field block at ``scale`` of the template's sizes; None when it runs below
    ``bottom`` (mm from the top) and must be set smaller."""
    layout = _layout(doc)
    x = _num(layout, "fields_x", 28)
    y = _num(layout, "fields_y", 80)
    step = _num(layout, "line_height", 11) * scale
    size = _num(layout, "font_size", 13, low=1) * scale
    lead = size * LEADING * PT_MM
    positions = layout.get("positions") or {}
    if not isinstance(positions, dict):
        raise _template_invalid("positions")
    value_x = x + 42
    right = PAGE_W_MM - 22
    placed: list[PlacedText] = []
    for label, value in doc.fields:
        if label in positions:  # a template may pin a field where its 底图 expects it
            px, py = _position(positions, label)
            lines = _wrap(value, font, size, max(PAGE_W_MM - 15 - px, 10.0))
            for i, line in enumerate(lines):
                placed.append(
                    PlacedText(x=px, baseline=py + i * lead, text=line, size=size, source=label)
                )
            if py + (len(lines) - 1) * lead > PAGE_H_MM - 15:
                return None
            continue
        labels = _wrap(label, font, size, value_x - x - 2)
        values = _wrap(value, font, size, right - value_x)
        for i, line in enumerate(labels):
            placed.append(
                PlacedText(
                    x=x, baseline=y + i * lead, text=line, size=size, role="label", source=label
                )
            )
        for i, line in enumerate(values):
            placed.append(
                PlacedText(x=value_x, baseline=y + i * lead, text=line, size=size, source=label)
            )
        last = y + (max(len(labels), len(values)) - 1) * lead
        if last > bottom:
            return None
        y = last + step
    return placed


def _fields_block(doc: LicenseDocument, font: str) -> list[PlacedText]:
    # Above the issuer's name (baseline 75 mm from the bottom, 12 pt).
    bottom = PAGE_H_MM - 82
    scale = 1.0
    size = _num(_layout(doc), "font_size", 13, low=1)
    while True:
        rows = _field_rows(doc, font, scale=scale, bottom=bottom)
        if rows is not None:
            return rows
        if size * scale <= MIN_SIZE:
            longest = max(doc.fields, key=lambda f: len(f[1]), default=("照面信息", ""))
            raise _overflow(longest[0], longest[1])
        scale = max(MIN_SIZE / size, scale * 0.9)


def _layout(doc: LicenseDocument) -> dict:
    layout = doc.layout or {}
    if not isinstance(layout, dict):
        raise _template_invalid("layout")
    return layout


def page_plan(doc: LicenseDocument, *, font: str) -> list[PlacedText]:
    """Every line of text on the page (``font`` is a registered font name), positioned as
    both renderers draw it; raises `UnprintableError` (``file.text_overflow``) for a text that
    cannot be printed whole (``file.template_invalid`` for a template whose layout is not
    numbers). The QR code, seal, 底图, watermark and the 加注件 banner (a
    repeated pattern) are drawn apart."""
    layout = _layout(doc)
    placed: list[PlacedText] = []
    if doc.scan:
        band = f"{doc.title}（存量证照电子化）　证照编号：{doc.number}"
        size, text = _fit_line(band, font, size=10, width=PAGE_W_MM - 40, source="证照编号")
        placed.append(PlacedText(x=20, baseline=PAGE_H_MM - 74, text=text, size=size))
    else:
        size, title = _fit_line(
            doc.title,
            font,
            size=_num(layout, "title_size", 30, low=1),
            width=PAGE_W_MM - 30,
            source="证照名称",
        )
        placed.append(
            PlacedText(
                x=PAGE_W_MM / 2,
                baseline=_num(layout, "title_y", 52),
                text=title,
                size=size,
                align="center",
                role="title",
                source="证照名称",
            )
        )
        size, number = _fit_line(
            f"编号：{doc.number}", font, size=11, width=PAGE_W_MM - 42, source="证照编号"
        )
        placed.append(
            PlacedText(
                x=PAGE_W_MM - 22,
                baseline=30,
                text=number,
                size=size,
                align="right",
                source="证照编号",
            )
        )
        placed.extend(_fields_block(doc, font))
        size, issuer = _fit_line(
            doc.issuer_name, font, size=12, width=PAGE_W_MM - 50, source="发证机关"
        )
        placed.append(
            PlacedText(
                x=PAGE_W_MM - 30,
                baseline=PAGE_H_MM - 75,
                text=issuer,
                size=size,
                align="right",
                source="发证机关",
            )
        )
        placed.append(
            PlacedText(
                x=PAGE_W_MM - 30,
                baseline=PAGE_H_MM - 68,
                text=doc.issue_date,
                size=12,
                align="right",
                source="发证日期",
            )
        )
    size, ident = _fit_line(
        f"证照标识：{doc.identifier}", font, size=7.5, width=PAGE_W_MM - 40, source="证照标识"
    )
    placed.append(PlacedText(x=20, baseline=PAGE_H_MM - 18, text=ident, size=size))
    if doc.qr_caption:
        caption_x = 20 + QR_SIZE / mm + 3
        seal_left = PAGE_W_MM - 26 - SEAL_SIZE / mm
        size, caption = _fit_line(
            doc.qr_caption, font, size=7.5, width=seal_left - caption_x, source="二维码说明"
        )
        placed.append(PlacedText(x=caption_x, baseline=PAGE_H_MM - 24, text=caption, size=size))
    placed.extend(_annotation_lines(doc.annotation, font))
    return placed


def _annotation_lines(lines: list[str], font: str) -> list[PlacedText]:
    """加注件 footer: each line wrapped within the page, from 62 mm above the bottom down to
    the identifier line."""
    placed: list[PlacedText] = []
    baseline = PAGE_H_MM - 62
    lead = 4.5
    for line in lines:
        for part in _wrap(line, font, 9, PAGE_W_MM - 40):
            if baseline > PAGE_H_MM - 21:
                raise _overflow("加注件说明", "".join(lines))
            placed.append(
                PlacedText(
                    x=20,
                    baseline=baseline,
                    text=part,
                    size=9,
                    role="annotation",
                    source="加注件说明",
                )
            )
            baseline += lead
    return placed


def missing_glyphs(text: str, font: str) -> list[str]:
    """The distinct characters of ``text`` (in order) that ``font`` (a registered TrueType
    font's name) has no glyph for; line feeds and tabs are not drawn and do not count."""
    cmap = pdfmetrics.getFont(font).face.charToGlyph  # type: ignore[attr-defined]  # a TrueType font (register_font) has a face
    seen: dict[str, None] = {}
    for char in text:
        if char not in "\n\r\t" and ord(char) not in cmap:
            seen.setdefault(char)
    return list(seen)


def _check_glyphs(doc: LicenseDocument, plan: list[PlacedText], font: str) -> None:
    texts = [(p.source or "证照页面", p.text) for p in plan]
    if doc.watermark:
        texts += [("水印", doc.watermark), ("水印", doc.watermark_note)]
    if doc.annotation:
        texts.append(("加注件说明", annotation_banner(doc.annotation)))
    found: dict[str, list[str]] = {}
    for source, text in texts:
        for char in missing_glyphs(text, font):
            where = found.setdefault(char, [])
            if source not in where:
                where.append(source)
    if not found:
        return
    named = "、".join(
        f"“{char}”（U+{ord(char):04X}，{'、'.join(where)}）"
        for char, where in list(found.items())[:10]
    )
    raise UnprintableError(
        "file.missing_glyphs",
        f"证照字体中没有以下字符的字形，签章文件无法如实打印：{named}。请核对所填内容；"
        "如确需使用这些字符，请联系管理员配置包含它们的字体",
        {
            "characters": [
                {"character": char, "codepoint": f"U+{ord(char):04X}", "fields": where}
                for char, where in found.items()
            ]
        },
    )


def page_check(doc: LicenseDocument, *, font_path: str) -> list[PlacedText]:
    """The plan of ``doc`` if every text can be printed exactly as given, else
    `UnprintableError` (``file.missing_glyphs`` naming each character and where it is, or
    ``file.text_overflow`` naming the field)."""
    font = register_font(font_path)
    plan = page_plan(doc, font=font)
    _check_glyphs(doc, plan, font)
    return plan


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
