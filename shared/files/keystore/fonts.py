"""The CJK font seals and documents are drawn with."""

from __future__ import annotations

import functools

from django.conf import settings

from shared.files.render import find_cjk_font


def font_path() -> str:
    # Cached: looking the font up runs fc-match, a subprocess, which costs more than a render.
    return _font_path(settings.FILES_CJK_FONT)


@functools.cache
def _font_path(configured: str) -> str:
    return find_cjk_font(configured)
