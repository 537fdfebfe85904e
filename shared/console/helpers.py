"""Small helpers of the console's views: reading form values, saying what went wrong."""

import base64
from datetime import date
from typing import Any

from django.core.paginator import Page, Paginator
from django.http import HttpRequest
from django.utils.dateparse import parse_date

from shared.core.errors import ApplicationError, PermanentError
from shared.crypto.qr import qr_png
from shared.domain.errors import DomainError

# What a screen catches from a service: a refusal with a Chinese message for the person.
Refusal = (ApplicationError, DomainError)
PAGE_SIZE = 50


def form_date(value: str, *, label: str, field: str) -> date:
    """A date typed into a form (YYYY-MM-DD), or a refusal naming the field."""
    try:  # parse_date raises for a well-formed impossible date (2027-02-30)
        parsed = parse_date(value.strip()) if value.strip() else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise PermanentError(
            "form.date", f"{label}不是有效日期（格式：年-月-日）", {"field": field}
        )
    return parsed


def form_int(value: str, *, default: int, low: int, high: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return max(low, min(high, number))


def form_ids(request: HttpRequest, name: str) -> list[int]:
    """Row ids ticked in a form (checkboxes named `name`); anything else is ignored."""
    return [int(v) for v in request.POST.getlist(name) if v.isdigit() and len(v) < 18][:1000]


def refusal_field(exc: Any) -> str:
    detail = getattr(exc, "detail", None)
    return str(detail.get("field", "")) if isinstance(detail, dict) else ""


def paginate(request: HttpRequest, rows: Any) -> Page:
    return Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))


def qr_data_uri(text: str) -> str:
    """A QR code as a data: URI (the content policy allows data: images, no other origin)."""
    return "data:image/png;base64," + base64.b64encode(qr_png(text)).decode()


def validated(
    serializer_class: Any, data: dict[str, Any]
) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """The API's own input serializer over a form's values: (validated values, None) or
    (None, {field: first message}) for showing beside each field, nested fields dotted
    (`holder.code`). The console takes no input the API would refuse."""
    # An empty box is a value not given (an optional date stays None, not "")
    serializer = serializer_class(data={k: v for k, v in data.items() if v != ""})
    if serializer.is_valid():
        return dict(serializer.validated_data), {}
    return None, _flatten(serializer.errors)


def _flatten(errors: Any, prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    if isinstance(errors, dict):
        for key, value in errors.items():
            flat.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(errors, list) and errors:
        if isinstance(errors[0], dict | list):
            for value in errors:
                flat.update(_flatten(value, prefix))
        else:
            flat[prefix or "general"] = str(errors[0])
    return flat
