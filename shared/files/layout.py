"""The page plan of a licence: every line of text, for the PDF (`shared.files.render`) and the
OFD (`shared.files.ofd_render`) alike (pure: no Django here).

Faithful printing: the signed file must show exactly the data. `page_plan` lays out every line
of text (the OFD renderer draws the same plan): a value too wide for its box is wrapped onto
more lines, a title, number or issuer name is set smaller until it fits, and the field block is
set smaller until it fits above the issuer's name. What still cannot be printed whole, and any
character the font has no glyph for (it would print as an empty box or nothing), raises
`UnprintableError`: at issue time (`page_check`), so the clerk can correct the data, and again
at render time, so no file ever shows less than its data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics

from shared.core.errors import PermanentError
from shared.files.typeface import missing_glyphs, register_font

SEAL_SIZE = 42 * mm
QR_SIZE = 36 * mm
PT_MM = 25.4 / 72  # one point in millimetres
PAGE_W_MM, PAGE_H_MM = 210.0, 297.0
MIN_SIZE = 6.0  # points: the smallest text set to make a value fit
LEADING = 1.35  # line advance within a wrapped value, in font sizes


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


def annotation_banner(lines: list[str]) -> str:
    return "　".join(lines[:2])


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


def _face(doc: LicenseDocument, font: str, layout: dict) -> list[PlacedText]:
    """A licence made here: its title, number, fields, issuer and date."""
    placed: list[PlacedText] = []
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
    return placed


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
        placed.extend(_face(doc, font, layout))
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
