"""The issue form's surface fields (照面信息), generated from the type's JSON Schema.

Each property becomes an input of its kind (text, number, yes/no, a choice); what is typed is
turned back into JSON values of the schema's types, and the service's refusal
(`surface.invalid`, one entry per field) is shown beside the field it names.
"""

import re
from dataclasses import dataclass
from typing import Any

from django.http import QueryDict

PREFIX = "surface__"
_MISSING = re.compile(r"缺少必填字段 (.+)$")


@dataclass(frozen=True, slots=True, kw_only=True)
class SurfaceField:
    name: str
    index: int
    kind: str  # text | textarea | integer | number | boolean | choice
    required: bool
    maxlength: int | None
    choices: tuple[str, ...]
    help: str

    @property
    def input_name(self) -> str:
        return PREFIX + self.name

    @property
    def input_id(self) -> str:
        # Ids stay ASCII (labels and aria-describedby point at them); names are the schema's.
        return f"f-surface-{self.index}"


def _kind(spec: dict[str, Any]) -> str:
    if "enum" in spec:
        return "choice"
    kind = spec.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind in ("integer", "number", "boolean"):
        return str(kind)
    maxlength = spec.get("maxLength")
    return "textarea" if isinstance(maxlength, int) and maxlength > 200 else "text"


def surface_fields(schema: dict[str, Any]) -> list[SurfaceField]:
    """The schema's properties, required ones first (PostgreSQL's jsonb keeps keys in its own
    order, not the author's, so "required first" is the order a person can rely on)."""
    properties = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    fields = []
    for index, (name, spec) in enumerate(properties.items()):
        spec = spec if isinstance(spec, dict) else {}
        maxlength = spec.get("maxLength")
        fields.append(
            SurfaceField(
                name=str(name),
                index=index,
                kind=_kind(spec),
                required=name in required,
                maxlength=maxlength if isinstance(maxlength, int) else None,
                choices=tuple(str(c) for c in spec.get("enum") or ()),
                help=str(spec.get("description") or spec.get("title") or ""),
            )
        )
    return sorted(fields, key=lambda f: not f.required)


def _number(text: str, kind: str) -> Any:
    try:
        return int(text) if kind == "integer" else float(text)
    except ValueError:
        return text  # the schema's check says which field is not a number


def surface_values(schema: dict[str, Any], data: QueryDict) -> dict[str, Any]:
    """The posted surface as JSON values; an empty optional field is left out (the schema's
    `required` says what must be there)."""
    values: dict[str, Any] = {}
    for field in surface_fields(schema):
        if field.kind == "boolean":
            values[field.name] = data.get(field.input_name) == "on"
            continue
        text = data.get(field.input_name, "").strip()
        if not text:
            continue
        values[field.name] = (
            _number(text, field.kind) if field.kind in ("integer", "number") else text
        )
    return values


def surface_errors(detail: Any) -> dict[str, str]:
    """`surface.invalid`'s entries by field name (a missing field is named in its message)."""
    errors: dict[str, str] = {}
    entries = detail.get("errors", []) if isinstance(detail, dict) else []
    for entry in entries:
        name = str(entry.get("field", ""))
        message = str(entry.get("message", ""))
        missing = _MISSING.search(message)
        if not name and missing:
            name = missing.group(1)
        errors.setdefault(PREFIX + name.split(".")[0], message)
    return errors
