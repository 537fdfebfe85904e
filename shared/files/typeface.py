"""The licence font (pure: no Django here). reportlab embeds (subsets) TrueType fonts only; the
built-in `STSong-Light` is not embedded and Noto CJK (CFF outlines) cannot be loaded
(FIELD-NOTES), so a TrueType CJK font is required: `FILES_CJK_FONT` or what `fc-match` finds
for WenQuanYi Micro Hei."""

from __future__ import annotations

import functools
import shutil
import subprocess

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont

FONT_NAME = "LicenseCJK"
FONT_CANDIDATES = ("WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "AR PL UMing CN")


class FontNotFoundError(RuntimeError):
    """No TrueType CJK font is installed (run deploy/system-packages.sh)."""


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


def missing_glyphs(text: str, font: str) -> list[str]:
    """The distinct characters of ``text`` (in order) that ``font`` (a registered TrueType
    font's name) has no glyph for; line feeds and tabs are not drawn and do not count."""
    cmap = pdfmetrics.getFont(font).face.charToGlyph  # type: ignore[attr-defined]  # a TrueType font (register_font) has a face
    seen: dict[str, None] = {}
    for char in text:
        if char not in "\n\r\t" and ord(char) not in cmap:
            seen.setdefault(char)
    return list(seen)
