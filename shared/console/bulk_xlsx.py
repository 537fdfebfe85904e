"""XLSX for bulk upload (openpyxl): the template as a workbook, and an uploaded workbook's
first sheet as rows of text, as a CSV would give them.

Cells in the template are text-formatted, so Excel keeps a holder code's or a number's leading
zeros and never turns an 18-digit code into 1.2E+17. Dates typed as dates come back as
datetime values: they are written back as text the issue API reads (年-月-日, and 时:分 where
the time is not midnight).
"""

import io
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

from openpyxl import Workbook, load_workbook

from shared.core.errors import PermanentError

TEXT = "@"


def template_xlsx(headers: list[str], example: list[str]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None  # a new workbook has its sheet
    sheet.title = "批量签发"
    sheet.append(headers)
    sheet.append(example)
    for column in sheet.iter_cols(min_row=1, max_row=1000, max_col=len(headers)):
        for cell in column:
            cell.number_format = TEXT
    for index, header in enumerate(headers, start=1):
        sheet.column_dimensions[sheet.cell(row=1, column=index).column_letter].width = max(
            12, 2 * len(header) + 4
        )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        if (value.hour, value.minute, value.second) == (0, 0, 0):
            return value.date().isoformat()
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def xlsx_rows(raw: bytes, *, limit: int) -> tuple[list[str], Iterator[tuple[int, dict[str, str]]]]:
    """The first sheet's headers, and its rows after them as (row number, {header: text}),
    at most `limit` rows (past that the caller refuses the file as too large)."""
    try:
        book = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
        sheet = book.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        headers = [_text(v) for v in next(rows, ())]
    except Exception as exc:  # noqa: BLE001  # whatever a broken workbook raises: one refusal
        raise PermanentError(
            "bulk.not_xlsx", "文件不是有效的 XLSX 工作簿，请使用下载的模板"
        ) from exc

    def records() -> Iterator[tuple[int, dict[str, str]]]:
        for number, values in enumerate(rows, start=2):
            if number > limit + 1:
                return
            yield number, {h: _text(v) for h, v in zip(headers, values, strict=False) if h}

    return headers, records()
