"""Request parsers: DRF's, refusing what the database cannot store."""

import io
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

NUL = "\x00"


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


class JSONParser(parsers.JSONParser):
    """JSON whose strings or keys hold NUL (`\\u0000`) is refused with 400: PostgreSQL `text` and
    `jsonb` cannot store it, so it would otherwise fail at save time as a 500."""

    def parse(self, stream, media_type=None, parser_context=None):  # type: ignore[no-untyped-def]
        raw = stream.read()
        data = super().parse(io.BytesIO(raw), media_type, parser_context)
        # Strict JSON can hold NUL only as the escape `\u0000`: a UTF-8 body without that
        # text needs no walk (an envelope of a thousand events would otherwise cost one).
        utf8 = parsers.get_encoding(parser_context or {}).lower().replace("-", "") == "utf8"
        if (not utf8 or b"\\u0000" in raw) and _has_nul(data):
            raise ParseError("请求体含有空字符（\\u0000），无法保存")
        return data


class MultiPartParser(parsers.MultiPartParser):
    """Form fields holding NUL are refused with 400, for the same reason as in `JSONParser`."""

    def parse(self, stream, media_type=None, parser_context=None):  # type: ignore[no-untyped-def]
        result = super().parse(stream, media_type, parser_context)
        if any(_has_nul(k) or _has_nul(result.data.getlist(k)) for k in result.data):
            raise ParseError("请求表单含有空字符（\\u0000），无法保存")
        return result
