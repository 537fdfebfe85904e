"""Clean text: what may go into a field that is stored, signed, printed and shown to others.

A licence's holder name, number and surface values are signed and printed, and read back by
people who cannot see invisible characters; an access record's `use_cause` is read by auditors.
Characters that change what a reader sees without being seen themselves are refused here, so
two values that look the same are the same:

- control characters (C0, DEL, C1), except TAB, LF and CR in multi-line text (a reason);
- the line and paragraph separators U+2028 / U+2029 in single-line text;
- bidirectional controls (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C): they reorder
  the text on screen ("Trojan Source"), so a name can display as another;
- every other invisible format character (Unicode category Cf: zero-width space U+200B, word
  joiner U+2060, byte-order mark U+FEFF, soft hyphen U+00AD, tag characters, …), except the
  zero-width (non-)joiners U+200C / U+200D *between two letters*, where scripts such as the
  Arabic script used for Uyghur need them;
- lone surrogates and Unicode noncharacters (U+FDD0–U+FDEF, U+xxFFFE, U+xxFFFF).

Pure Python (no Django): `check_text` raises `DomainError` (`text.invalid_character`, with
every offending character's position and code point in `detail`); `is_blank` says whether a text
shows nothing at all (only whitespace and invisible characters), for "required" checks.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from shared.domain.errors import DomainError

__all__ = [
    "BadCharacter",
    "bad_characters",
    "check_text",
    "check_text_tree",
    "is_blank",
]

BIDI_CONTROLS = frozenset([0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)])
JOINERS = frozenset([0x200C, 0x200D])
MULTILINE_ALLOWED = frozenset("\t\n\r")
SEPARATORS = frozenset([0x2028, 0x2029])

KIND_LABELS = {
    "control": "控制字符",
    "separator": "换行或分段符",
    "bidi": "双向文本控制符",
    "invisible": "不可见格式字符",
    "surrogate": "孤立代理项",
    "noncharacter": "非字符码位",
}
# The message names at most this many characters; `detail` carries them all.
MESSAGE_MAX_CHARACTERS = 5


@dataclass(frozen=True, slots=True, kw_only=True)
class BadCharacter:
    """One refused character: its index in the text, ``U+XXXX`` and why (a `KIND_LABELS` key)."""

    position: int
    codepoint: str
    kind: str

    def as_dict(self) -> dict[str, Any]:
        return {"position": self.position, "codepoint": self.codepoint, "kind": self.kind}


def _is_letter_or_mark(char: str) -> bool:
    return unicodedata.category(char)[0] in "LM"


def _is_noncharacter(code: int) -> bool:
    return 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE


def _kind(text: str, index: int, *, multiline: bool) -> str | None:
    char = text[index]
    code = ord(char)
    category = unicodedata.category(char)
    if category == "Cc":
        return None if multiline and char in MULTILINE_ALLOWED else "control"
    if code in SEPARATORS:
        return None if multiline else "separator"
    if code in BIDI_CONTROLS:
        return "bidi"
    if code in JOINERS:
        between_letters = (
            0 < index < len(text) - 1
            and _is_letter_or_mark(text[index - 1])
            and _is_letter_or_mark(text[index + 1])
        )
        return None if between_letters else "invisible"
    if category == "Cf":
        return "invisible"
    if category == "Cs":
        return "surrogate"
    if _is_noncharacter(code):
        return "noncharacter"
    return None


def bad_characters(text: str, *, multiline: bool = False) -> list[BadCharacter]:
    """Every refused character of ``text``, in order (empty when the text is clean)."""
    found = []
    for index in range(len(text)):
        kind = _kind(text, index, multiline=multiline)
        if kind is not None:
            found.append(
                BadCharacter(position=index, codepoint=f"U+{ord(text[index]):04X}", kind=kind)
            )
    return found


def is_blank(text: str) -> bool:
    """True when ``text`` shows nothing: empty, or only whitespace and invisible characters."""
    return all(
        char.isspace() or unicodedata.category(char) in ("Cc", "Cf", "Zs", "Zl", "Zp")
        for char in text
    )


def _message(label: str, bad: list[BadCharacter]) -> str:
    named = "、".join(
        f"{b.codepoint}（{KIND_LABELS[b.kind]}）" for b in bad[:MESSAGE_MAX_CHARACTERS]
    )
    more = f"等 {len(bad)} 个字符" if len(bad) > MESSAGE_MAX_CHARACTERS else ""
    return f"{label}含有不允许的字符：{named}{more}，请删除后重新提交"


def check_text(text: str, *, field: str, label: str, multiline: bool = False) -> str:
    """Return ``text`` unchanged if it is clean, else raise ``text.invalid_character``.

    ``field`` is the machine name put in ``detail`` (``"holder.name"``), ``label`` the Chinese
    name put in the message (``"持证主体名称"``). Nothing is stripped or replaced: what the
    caller stores is what was sent, or nothing.
    """
    bad = bad_characters(text, multiline=multiline)
    if bad:
        raise DomainError(
            "text.invalid_character",
            _message(label, bad),
            {"field": field, "characters": [b.as_dict() for b in bad[:50]]},
        )
    return text


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """(path, text) for every string in a JSON value, dictionary keys included."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            sub = f"{path}.{key}" if path else str(key)
            if isinstance(key, str):
                yield sub, key
            yield from _strings(item, sub)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")


def check_text_tree(value: Any, *, field: str, label: str) -> Any:
    """`check_text` on every string (and key) of a JSON value; the message names the first
    offending entry (``照面信息“经营项目”``) and ``detail.field`` its path (``surface.经营项目``)."""
    for path, text in _strings(value, field):
        bad = bad_characters(text)
        if bad:
            name = path.removeprefix(field).lstrip(".") or field
            raise DomainError(
                "text.invalid_character",
                _message(f"{label}“{name}”", bad),
                {"field": path, "characters": [b.as_dict() for b in bad[:50]]},
            )
    return value
