"""Text that reaches the access log and its exports: what a purpose (用证事由) may contain, how
caller text is stored, and how a CSV cell is kept from becoming a spreadsheet formula."""

from __future__ import annotations

import unicodedata
from typing import Any

from shared.core.errors import PermanentError
from shared.domain.text import bad_characters, is_blank

# Bidirectional embeddings, overrides and isolates (LRE…RLO, LRI…PDI): they reorder how the
# rest of a line is displayed, so a logged text could read differently than it was sent.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# What a spreadsheet reads as the start of a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def purpose_problem(value: str) -> str:
    """Why `value` is not an acceptable purpose, or "" when it is: the licence fields' rule
    (`shared.domain.text`: no control, bidi or invisible format characters, no unpaired
    surrogates; line breaks are not allowed either), and not only invisible characters. An
    empty purpose is the caller's `…required` check, not a problem here."""
    bad = bad_characters(value)
    if bad:
        return bad[0].kind
    return "invisible" if value.strip() and is_blank(value) else ""


def purpose_check(value: str, *, field: str = "use_cause") -> str:
    """The purpose as given, or 400 `access.purpose_invalid` (its absence is checked by the
    caller, which answers its own `…required` code)."""
    problem = purpose_problem(value or "")
    if problem:
        raise PermanentError(
            "access.purpose_invalid",
            "用证事由不能只由不可见字符组成，也不能包含控制字符或双向文本控制符，请重新填写",
            {"field": field, "problem": problem},
        )
    return value


def log_text(value: Any, limit: int) -> str:
    """Caller text as the log stores it: valid UTF-8 (an unpaired surrogate becomes U+FFFD),
    no NUL (PostgreSQL), control and bidi characters shown as U+FFFD, cut to `limit`."""
    text = str(value or "")
    if text.isprintable() and not BIDI_CONTROLS.intersection(text):
        return text[:limit]
    return "".join(
        "\ufffd" if c in BIDI_CONTROLS or unicodedata.category(c) in ("Cc", "Cs") else c
        for c in text
        if c != "\x00"
    )[:limit]


def csv_cell(value: Any) -> Any:
    """A value for a CSV export: text that a spreadsheet would run as a formula gets a leading
    apostrophe, so it is shown as the text it is."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
