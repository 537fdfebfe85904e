"""Request parsers: DRF's, behind one input guard for every JSON body.

`guarded_json_loads` is the guard: a body is refused with 400 (`{"code", "message", "detail"}`)
before any view logic sees it when it is nested deeper than `MAX_DEPTH`, holds a string the
database or the canonical JSON cannot carry (NUL, a lone UTF-16 surrogate such as `"\\ud800"`),
an integer outside signed 64 bits or a number that overflows to infinity. Without it a deep body
ends in `RecursionError` (in the C decoder at ~1,000 levels, in our own recursive code far
sooner), a surrogate in `UnicodeEncodeError` while the refusal is being recorded, and a huge
integer in `OverflowError` on SQLite: each a 500.

It stays one parse: exchange envelopes of thousands of events come through it (bench/sync), so
no check walks the parsed data in Python on the common path:
- depth: before parsing, the brackets outside strings are cut out of the bytes with C-speed
  `bytes` operations and peeled innermost pair first, so depth d costs d passes over them;
- numbers: the decoder's own `parse_int`/`parse_float` hooks check each number as it is read;
- NUL and surrogates can only arrive as `\\u0000` / `\\uD800`–`\\uDFFF` escapes (strict UTF-8
  decoding refuses them as raw bytes), so the parsed data is walked only when the bytes hold one.
On a 10 MB envelope of 5,000 licence events: 111 ms against 97 ms before the guard (+14 ms).
"""

import json
import math
import re
from typing import Any, NoReturn

import orjson
from django.conf import settings
from rest_framework import parsers

from shared.core.errors import ApplicationError

MAX_DEPTH = 64
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

NUL = "\x00"
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'[]{}"')
_ONE_BRACKET_KIND = bytes.maketrans(b"{}", b"[]")
# `\u0000` or an escaped UTF-16 surrogate (`\uD800`-`\uDFFF`), the only ways into a parsed string.
_SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def _suspect_escape(utf8: bytes) -> bool:
    """An escape `_SUSPECT_ESCAPE` names is in `utf8`. Most bodies hold no backslash at all
    (orjson writes non-ASCII as it is, and base64 has none), which one `memchr` finds out:
    0.04 ms on an envelope's 3 MB of base64, against 1.6 ms for the pattern (looking for the
    two bytes `\\u` took 3.0 ms)."""
    return b"\\" in utf8 and _SUSPECT_ESCAPE.search(utf8) is not None


# An integer token of 19 digits or more may pass 64 bits: orjson reads up to 2**64 - 1 as an
# integer and beyond as a float, where the rule refuses. The same digits inside a string are
# harmless (a hex digest holds a run of 19 in most envelopes of a thousand licences), and
# only send the body down the checked path when what comes before them cannot be told apart.
# (orjson refuses infinity.)
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_NINETEEN_DIGITS = b"0" * 19
_ZERO = ord("0")
_WHITESPACE = b" \t\r\n"


def _long_integer(utf8: bytes) -> bool:
    """Whether `utf8` may hold an integer token of 19 digits or more: a run of 19 digits or
    more after `:`, `[` or `,` (whitespace and a minus sign between), or at the start. Found
    with C-speed `translate` and `find` (the pattern it replaces took 13 ms on a 2 MB envelope
    body holding such runs inside hex digests; this takes 1)."""
    zeros = utf8.translate(_DIGITS_AS_ZERO)
    at = zeros.find(_NINETEEN_DIGITS)
    while at != -1:
        start = at
        while start and zeros[start - 1] == _ZERO:
            start -= 1
        before = start - 1
        if before >= 0 and utf8[before] == ord("-"):
            before -= 1
        while before >= 0 and utf8[before] in _WHITESPACE:
            before -= 1
        if before < 0 or utf8[before] in b":[,":
            return True
        end = at + len(_NINETEEN_DIGITS)
        while end < len(zeros) and zeros[end] == _ZERO:
            end += 1
        at = zeros.find(_NINETEEN_DIGITS, end)
    return False


class InputRefused(ApplicationError):
    """Input the guard refuses before any view logic (400, or 413 for a body too large)."""


def body_too_large(limit: int) -> InputRefused:
    """The 413 for a request body over `limit` bytes (any parser that reads one)."""
    return InputRefused(
        "request.too_large",
        f"请求体过大：上限 {limit // (1024 * 1024)} MB，请分批提交",
        {"limit_bytes": limit},
        status=413,
    )


def _refuse(code: str, message: str, detail: dict[str, Any] | None = None) -> NoReturn:
    raise InputRefused(code, message, detail)


def _depth_exceeds(raw: bytes, max_depth: int) -> bool:
    """Whether the JSON text `raw` (UTF-8) nests deeper than `max_depth`; for malformed text
    False, and the decoder says what is wrong.

    Only the brackets outside strings count. Escaped backslashes and quotes go first (left to
    right, as the decoder pairs them), so every remaining quote delimits a string; everything
    but quotes and brackets is dropped; adjacent quotes are removed in pairs (an empty string,
    or the end of one string and the start of the next with no bracket between), so what
    quotes remain enclose brackets inside strings, which are cut out. The brackets left are
    peeled innermost pair first: depth d takes d passes."""
    if b"\\" in raw:
        raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    skeleton = raw.translate(None, _NOT_STRUCTURE).replace(b'""', b"")
    if b'"' in skeleton:
        skeleton = b"".join(skeleton.split(b'"')[::2])
    brackets = skeleton.translate(_ONE_BRACKET_KIND)
    for _ in range(max_depth):
        inner = brackets.replace(b"[]", b"")
        if not inner or inner == brackets:  # all peeled, or unbalanced (malformed)
            return False
        brackets = inner
    return True


def _bounded_int(text: str) -> int:
    # Digits are counted first: `int()` of a 5,000-digit token would itself be refused (as a
    # ValueError, i.e. "malformed") and costs quadratic time before that.
    value = int(text) if len(text) <= 20 else None
    if value is None or not INT64_MIN <= value <= INT64_MAX:
        _refuse(
            "request.number_out_of_range",
            "请求体中的整数超出允许范围（64 位有符号整数）",
            {"min": INT64_MIN, "max": INT64_MAX, "value": text[:40]},
        )
    return value


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        _refuse(
            "request.number_out_of_range",
            "请求体中的数值超出允许范围",
            {"value": text[:40]},
        )
    return value


def _reject_constant(name: str) -> NoReturn:
    _refuse(
        "request.malformed",
        f"请求体格式错误：{name} 不是合法的 JSON 数值",
        {"token": name},
    )


def _shown(key: str) -> str:
    """A key as it may appear in an answer: no surrogate (unencodable), no NUL."""
    return key.encode("utf-8", "backslashreplace").decode("utf-8").replace(NUL, "\\u0000")[:64]


def _bad_string(value: Any, path: str) -> tuple[str, str] | None:
    """(path, problem) of the first string or key holding NUL or a lone surrogate."""
    if isinstance(value, str):
        if NUL in value:
            return path, "nul"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path, "surrogate"
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            sub = f"{path}.{_shown(key)}" if path else _shown(key)
            found = _bad_string(key, sub) or _bad_string(item, sub)
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _bad_string(item, f"{path}[{index}]")
            if found:
                return found
    return None


def _refuse_string(path: str, problem: str) -> NoReturn:
    if problem == "nul":
        _refuse("request.nul_character", "请求体含有空字符（\\u0000），无法保存", {"path": path})
    _refuse(
        "request.invalid_unicode",
        "请求体含有无效的 Unicode 字符（孤立的代理项），请使用有效的 UTF-8 文本",
        {"path": path},
    )


def guarded_json_loads(
    raw: bytes | str,
    *,
    encoding: str = "utf-8",
    max_bytes: int | None = None,
    max_depth: int = MAX_DEPTH,
) -> Any:
    """Parse a JSON request body, or raise `InputRefused` (an `ApplicationError`: 400, or 413
    when `max_bytes` is given and exceeded). For any code that parses a caller's JSON itself."""
    if max_bytes is not None and len(raw) > max_bytes:
        raise body_too_large(max_bytes)
    text: str | None = None
    if isinstance(raw, bytes) and _is_utf8(encoding):
        # Decoded only if orjson cannot read it: orjson checks UTF-8 itself, and decoding 2 MB
        # just to check it was 3 % of the hub's ingest.
        utf8 = raw
    else:
        try:
            text = raw if isinstance(raw, str) else raw.decode(encoding)
            # The checks below read UTF-8 bytes; a body in another encoding (rare) is
            # re-encoded, which also refuses a surrogate its decoder let through.
            utf8 = text.encode("utf-8")
        except (UnicodeError, LookupError):
            _refuse("request.invalid_unicode", f"请求体不是有效的 {encoding.upper()} 编码文本")
    if _depth_exceeds(utf8, max_depth):
        _refuse(
            "request.too_deep",
            f"请求体嵌套层数过多：最多 {max_depth} 层",
            {"max_depth": max_depth},
        )
    if not (
        _suspect_escape(utf8)
        or _long_integer(utf8)
        or utf8.lstrip()[:1] in b"-0123456789"  # a bare number: not worth a pattern of its own
    ):
        # Nothing the rule refuses can be in it but what orjson refuses too (NaN, infinity,
        # malformed text, told apart below): orjson reads it 3-4 times faster.
        try:
            return orjson.loads(utf8)
        except orjson.JSONDecodeError:
            pass  # the standard decoder says what is wrong, with its position
    try:
        data = json.loads(
            _decoded(utf8, encoding) if text is None else text,
            parse_int=_bounded_int,
            parse_float=_finite_float,
            parse_constant=_reject_constant,
        )
    except RecursionError:  # only if the stack was already deep; the check above is the rule
        _refuse("request.too_deep", f"请求体嵌套层数过多：最多 {max_depth} 层")
    except ValueError as exc:
        position = (
            {"line": exc.lineno, "column": exc.colno}
            if isinstance(exc, json.JSONDecodeError)
            else {}
        )
        _refuse("request.malformed", "请求体格式错误，无法解析为 JSON", position)
    if _suspect_escape(utf8):
        found = _bad_string(data, "")
        if found:
            _refuse_string(*found)
    return data


def _decoded(utf8: bytes, encoding: str) -> str:
    """A UTF-8 body orjson did not read, decoded for the checked path (which names its fault)."""
    try:
        return utf8.decode("utf-8")
    except UnicodeError:
        _refuse("request.invalid_unicode", f"请求体不是有效的 {encoding.upper()} 编码文本")


def _is_utf8(encoding: str) -> bool:
    return encoding.lower().replace("-", "").replace("_", "") == "utf8"


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser behind `guarded_json_loads`. The size limit is Django's
    (`DATA_UPLOAD_MAX_MEMORY_SIZE`, 413), enforced as DRF reads the body."""

    def parse(self, stream, media_type=None, parser_context=None):
        return guarded_json_loads(
            stream.read(),
            encoding=parsers.get_encoding(parser_context or {}),
            max_bytes=settings.DATA_UPLOAD_MAX_MEMORY_SIZE,
        )


class EnvelopeParser(JSONParser):
    """An exchange envelope of version 2 is a few short fields around one base64 string (its
    signed body, parsed under the whole guard once decoded: `shared.federation.ingest`). Such
    a request is read with orjson at once: the guard's scans of several megabytes of base64
    cost more than the ingest of a tenth of its licences. Anything else (a version 1 envelope
    carries its body as JSON here; a nested value; an escape the guard must see) takes the
    guard."""

    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read()
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        encoding = parsers.get_encoding(parser_context or {})
        if len(raw) <= limit and _is_utf8(encoding) and not _suspect_escape(raw):
            try:
                data = orjson.loads(raw)
            except orjson.JSONDecodeError:
                data = None
            if isinstance(data, dict) and all(
                isinstance(v, str | int) and k != "body" for k, v in data.items()
            ):
                return data
        return guarded_json_loads(raw, encoding=encoding, max_bytes=limit)


class MultiPartParser(parsers.MultiPartParser):
    """Form fields holding NUL are refused with 400: PostgreSQL `text` cannot store it, so it
    would otherwise fail at save time as a 500. (Form text is decoded with replacement, so it
    cannot hold a lone surrogate.)"""

    def parse(self, stream, media_type=None, parser_context=None):
        result = super().parse(stream, media_type, parser_context)
        if any(NUL in k or any(NUL in v for v in result.data.getlist(k)) for k in result.data):
            _refuse("request.nul_character", "请求表单含有空字符（\\u0000），无法保存")
        return result


class GuardedJSONDecoder(json.JSONDecoder):
    """`serializers.JSONField(binary=True, decoder=GuardedJSONDecoder)`: JSON that arrives as a
    string inside a form field is the caller's JSON too, and goes through the same guard."""

    def decode(self, s, _w=None):
        return guarded_json_loads(s)
