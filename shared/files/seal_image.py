"""The picture of an agency's e-seal (电子印章): a red ring, a star, the name along the arc.

Pure (no Django). It is drawn once per agency and process with Pillow using the same TrueType
CJK font as the page, and becomes the appearance of the visible signature widget, so the seal
that a reader clicks is the signature itself.
"""

from __future__ import annotations

import functools
import io
import math

from PIL import Image, ImageDraw, ImageFont

__all__ = ["seal_png"]

SIZE = 360
RED = (200, 20, 20, 235)


def _star(cx: float, cy: float, r: float) -> list[tuple[float, float]]:
    points = []
    for i in range(10):
        radius = r if i % 2 == 0 else r * 0.382
        angle = -math.pi / 2 + i * math.pi / 5
        points.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
    return points


@functools.lru_cache(maxsize=256)
def seal_png(name: str, caption: str, font_path: str) -> bytes:
    """A transparent PNG of the seal for ``name`` with ``caption`` under the star."""
    image = Image.new("RGBA", (SIZE, SIZE), (255, 255, 255, 0))
    draw = ImageDraw.Draw(image)
    c = SIZE / 2
    draw.ellipse((8, 8, SIZE - 8, SIZE - 8), outline=RED, width=12)
    draw.polygon(_star(c, c, 52), fill=RED)
    text = name[:20]
    size = 40 if len(text) <= 12 else max(24, int(40 * 12 / len(text)))
    font = ImageFont.truetype(font_path, size, index=0)
    # The name runs clockwise along the upper arc, from about 8 o'clock to 4 o'clock.
    span = math.radians(min(250, 18 * len(text) + 40))
    radius = c - 44
    for i, char in enumerate(text):
        angle = -math.pi / 2 - span / 2 + span * (i + 0.5) / len(text)
        glyph = Image.new("RGBA", (size + 8, size + 8), (255, 255, 255, 0))
        ImageDraw.Draw(glyph).text((4, 2), char, font=font, fill=RED)
        glyph = glyph.rotate(
            -math.degrees(angle + math.pi / 2), expand=True, resample=Image.Resampling.BICUBIC
        )
        x = c + radius * math.cos(angle) - glyph.width / 2
        y = c + radius * math.sin(angle) - glyph.height / 2
        image.alpha_composite(glyph, (int(x), int(y)))
    if caption:
        small = ImageFont.truetype(font_path, 30, index=0)
        width = draw.textlength(caption, font=small)
        draw.text((c - width / 2, c + 66), caption, font=small, fill=RED)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
