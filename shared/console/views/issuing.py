"""The issuing agency's workspace, part one: the catalogue and the issue form generated from a
type's surface schema. The form is checked by the API's input serializer and then by the
issue service; each refusal is shown beside the field it concerns."""

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from shared.accounts.requests import AuthenticatedHttpRequest
from shared.catalog.models import LicenseType
from shared.catalog.selectors import license_type_list
from shared.console import roles
from shared.console.helpers import Refusal, refusal_field, validated
from shared.console.surface_form import surface_errors, surface_fields, surface_values
from shared.core.errors import ApplicationError
from shared.domain.errors import DomainError
from shared.domain.holder_codes import CODE_TYPES, validate_holder_code
from shared.licenses import issuing
from shared.licenses.api.serializers import LicenseIssueSerializer
from shared.licenses.models import Mode
from shared.licenses.validation import Holder

# Which form field a service's refusal belongs beside, by its code's first part.
FIELD_OF_CODE = {
    "citizen_id": "holder.code",
    "uscc": "holder.code",
    "holder": "holder.code",
    "validity": "valid_to",
    "license.number_required": "number",
    "license.case_completed_in_future": "case_completed_at",
    "license.case_completed_too_early": "case_completed_at",
    "license.matter_unknown": "matter_code",
}
CONSOLE_MODES = [(Mode.ONLINE, "在线办结签发"), (Mode.OFFLINE, "线下办结补录")]


def _own_types(user: Any) -> Any:
    return license_type_list(user=user).filter(issuer_id=user.agency_id)


@roles.console_view(roles.issuer)
def catalogue(request: AuthenticatedHttpRequest) -> HttpResponse:
    types = _own_types(request.user).order_by("state", "type_code")
    return render(request, "console/issuer/catalogue.html", {"types": types})


def _type_or_404(request: AuthenticatedHttpRequest, type_code: str) -> LicenseType:
    license_type = _own_types(request.user).filter(type_code=type_code).first()
    if license_type is None:
        raise Http404("证照类型不存在")
    return license_type


@roles.console_view(roles.issuer)
def type_detail(request: AuthenticatedHttpRequest, type_code: str) -> HttpResponse:
    license_type = _type_or_404(request, type_code)
    context = {"t": license_type, "fields": surface_fields(license_type.surface_schema)}
    return render(request, "console/issuer/type.html", context)


def _holder_types(license_type: LicenseType) -> list[tuple[str, str]]:
    category = license_type.holder_category
    codes = {"person": ["111"], "legal": ["001"]}.get(category, list(CODE_TYPES))
    return [(code, CODE_TYPES[code]) for code in codes if code in CODE_TYPES]


def _issue_data(license_type: LicenseType, post: Any) -> dict[str, Any]:
    """The form as the issue API's request body."""
    long_term = post.get("long_term") == "on"
    return {
        "type_code": license_type.type_code,
        "number": post.get("number", "").strip(),
        "holder": {
            "name": post.get("holder.name", "").strip(),
            "code": post.get("holder_code", "").strip(),
            "code_type": post.get("holder_code_type", ""),
        },
        "valid_from": post.get("valid_from", ""),
        "valid_to": None if long_term else post.get("valid_to", ""),
        "mode": post.get("mode", Mode.ONLINE),
        "case_completed_at": post.get("case_completed_at", ""),
        "matter_code": post.get("matter_code", ""),
        "surface": surface_values(license_type.surface_schema, post),
    }


def _refusal_errors(exc: ApplicationError | DomainError) -> dict[str, str]:
    if exc.code == "surface.invalid":
        return surface_errors(exc.detail) or {"general": exc.message}
    field = refusal_field(exc).replace("surface.", "surface__")
    field = FIELD_OF_CODE.get(exc.code) or FIELD_OF_CODE.get(exc.code.split(".")[0]) or field
    if exc.code == "holder.name_required":
        field = "holder.name"
    if exc.code in ("holder.category", "holder.code_type"):
        field = "holder.code_type"
    return {field or "general": exc.message}


def _issue(request: AuthenticatedHttpRequest, license_type: LicenseType) -> dict[str, str] | Any:
    """Issue from the posted form: the licence, or the errors by field."""
    data = _issue_data(license_type, request.POST)
    if data["valid_to"] == "":
        data.pop("valid_to")  # neither a date nor 长期: the serializer says it is required
    values, errors = validated(LicenseIssueSerializer, data)
    if values is None:
        # The holder code's own rule is told at once, with the other fields' errors.
        holder = data["holder"]
        try:
            validate_holder_code(holder["code"], holder["code_type"], today=timezone.localdate())
        except DomainError as exc:
            errors.setdefault("holder.code", exc.message)
        return errors
    holder = values.pop("holder")
    try:
        return issuing.license_issue(actor=request.user, holder=Holder(**holder), **values)
    except Refusal as exc:
        return _refusal_errors(exc)


@roles.console_view(roles.issuer)
def issue_form(request: AuthenticatedHttpRequest, type_code: str) -> HttpResponse:
    license_type = _type_or_404(request, type_code)
    errors: dict[str, str] = {}
    form: Any = request.POST
    if request.method == "POST":
        outcome = _issue(request, license_type)
        if not isinstance(outcome, dict):
            messages.success(
                request, f"已签发证照 {outcome.identifier}（{outcome.get_status_display()}）"
            )
            return redirect("console-licence", identifier=outcome.identifier)
        errors = outcome
    else:
        today = timezone.localdate()
        days = license_type.validity_max_days
        form = {
            "valid_from": today.isoformat(),
            "valid_to": (today + timedelta(days=days - 1)).isoformat() if days else "",
            # A type without a maximum validity (e.g. 个体工商户营业执照) is issued 长期 unless
            # the issuer gives an end date; an empty, unticked end date was refused as missing.
            "long_term": not days,
            "case_completed_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
            "mode": Mode.ONLINE,
        }
    context = {
        "t": license_type,
        "fields": surface_fields(license_type.surface_schema),
        "holder_types": _holder_types(license_type),
        "modes": CONSOLE_MODES,
        "matters": [m for m in license_type.related_matters if isinstance(m, dict)],
        "form": form,
        "errors": errors,
    }
    return render(request, "console/issuer/issue.html", context, status=400 if errors else 200)


@roles.console_view(roles.issuer)
def holder_code_check(request: HttpRequest) -> HttpResponse:
    """The holder-code rule (GB 11643 / GB 32100) as typed, for the issue form's script."""
    code, code_type = request.GET.get("code", "")[:64], request.GET.get("code_type", "")[:3]
    try:
        checked = validate_holder_code(code, code_type, today=timezone.localdate())
    except DomainError as exc:
        return JsonResponse({"ok": False, "code": exc.code, "message": exc.message})
    note = "；".join(str(w) for w in checked.warnings)
    return JsonResponse({"ok": True, "message": "代码校验通过" + (f"（{note}）" if note else "")})
