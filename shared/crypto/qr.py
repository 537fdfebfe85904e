"""QR codes for licence files: one encoder, a fixed mask, vector drawing and PNG.

Pure (no Django). segno spends most of its time scoring the eight mask patterns; a fixed mask is
about three times faster and decodes just as well (FIELD-NOTES), so every code here uses mask 2.
Error correction M survives a print smudge or a fold without making the symbol much denser.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import segno

__all__ = ["FIXED_MASK", "qr_matrix", "qr_png", "qr_runs"]

FIXED_MASK = 2
ERROR_LEVEL = "m"


def _make(data: str) -> segno.QRCode:
    return segno.make_qr(data, error=ERROR_LEVEL, mask=FIXED_MASK, boost_error=False)


def qr_matrix(data: str) -> list[bytes]:
    """The module matrix, one row of 0/1 bytes per line, without the quiet zone."""
    return [bytes(row) for row in _make(data).matrix]


def qr_runs(matrix: list[bytes]) -> Iterator[tuple[int, int, int]]:
    """(row, first column, length) of every horizontal run of dark modules.

    Drawing runs instead of single modules makes the page's content stream several times shorter.
    """
    for y, row in enumerate(matrix):
        x = 0
        width = len(row)
        while x < width:
            if row[x]:
                start = x
                while x < width and row[x]:
                    x += 1
                yield y, start, x - start
            else:
                x += 1


def qr_png(data: str, *, scale: int = 8, border: int = 4) -> bytes:
    buffer = io.BytesIO()
    _make(data).save(buffer, kind="png", scale=scale, border=border)
    return buffer.getvalue()
