"""Renew, amend and pledge from the licence detail (issue #15 item 4): the actions that take
more than a reason. Each form's values go through the API's own input serializer
(`LicenseActionSerializer`) and then `license_act`, as POST /api/v1/licenses/<id>/<action>/;
a refusal is shown beside the field it concerns, or above the form."""

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render

from shared.accounts.requests import AuthenticatedHttpRequest
from shared.console import roles
from shared.console.helpers import Refusal, refusal_field, validated
from shared.console.surface_form import surface_errors, surface_fields, surface_values
from shared.core.errors import ApplicationError
from shared.domain.status import ACTION_LABELS, Action, Status, allowed_actions
from shared.licenses import selectors
from shared.licenses.api.serializers import LicenseActionSerializer
from shared.licenses.models import License
from shared.licenses.services import REASON_REQUIRED, license_act

CHANGES = (Action.renew, Action.amend, Action.pledge)


def change_actions(lic: License) -> list[dict[str, str]]:
    """The detail page's links to these forms, for the actions the licence allows now."""
    allowed = allowed_actions(status=Status(lic.status), pledged=lic.pledged)
    return [{"value": a.value, "label": ACTION_LABELS[a]} for a in CHANGES if a in allowed]


def _licence(request: AuthenticatedHttpRequest, identifier: str) -> License:
    try:
        return selectors.license_get(user=request.user, identifier=identifier)
    except ApplicationError as exc:
        raise Http404(exc.message) from exc


def _data(lic: License, action: Action, post: Any) -> dict[str, Any]:
    """The form as the action API's request body: only what this action changes."""
    data: dict[str, Any] = {"reason": post.get("reason", "").strip()}
    long_term = post.get("long_term") == "on"
    valid_to = None if long_term else post.get("valid_to", "").strip()
    if action == Action.renew:
        data.update(valid_from=post.get("valid_from", "").strip(), valid_to=valid_to)
    elif action == Action.amend:
        data["surface"] = surface_values(lic.license_type.surface_schema, post)
        name = post.get("holder_name", "").strip()
        if name != lic.holder_name:
            data["holder_name"] = name
        if (valid_to or None) != (lic.valid_to.isoformat() if lic.valid_to else None):
            data["valid_to"] = valid_to  # the validity changes only when it was changed
    else:
        data.update(pledgee=post.get("pledgee", "").strip(), until=post.get("until", "").strip())
    return data


def _errors(exc: Any) -> dict[str, str]:
    if exc.code == "surface.invalid":
        return surface_errors(exc.detail) or {"general": exc.message}
    field = refusal_field(exc)
    if exc.code.startswith(("renew.valid_to", "validity")):
        field = "valid_to"
    if exc.code.startswith("pledge"):
        field = field or "pledgee"
    return {"general": exc.message, **({field: exc.message} if field else {})}


def _apply(request: AuthenticatedHttpRequest, lic: License, action: Action) -> Any:
    """The licence after the action, or the errors by field."""
    data = _data(lic, action, request.POST)
    if action == Action.renew and data["valid_to"] == "":
        return {"valid_to": "请填写新的有效期截止日期，或勾选长期有效"}
    values, errors = validated(LicenseActionSerializer, data)
    if values is None:
        return errors
    values["valid_to_given"] = "valid_to" in data
    version = request.POST.get("version", "")
    try:
        lic, _ = license_act(
            actor=request.user,
            identifier=lic.identifier,
            action=action,
            expected_version=int(version) if version.isdigit() else None,
            **values,
        )
    except Refusal as exc:
        request.refusal_status = getattr(exc, "status_code", 409)  # type: ignore[attr-defined]  # the page's status: the API's for this refusal
        return _errors(exc)
    return lic


def _initial(lic: License) -> dict[str, Any]:
    form: dict[str, Any] = {
        "holder_name": lic.holder_name,
        "valid_to": lic.valid_to.isoformat() if lic.valid_to else "",
        "long_term": lic.valid_to is None,
    }
    for field in surface_fields(lic.license_type.surface_schema):
        value = (lic.surface or {}).get(field.name, "")
        form[field.input_name] = value
    return form


@roles.console_view(roles.issuer)
def licence_change(request: AuthenticatedHttpRequest, identifier: str, action: str) -> HttpResponse:
    """GET: the form; POST: renew, amend or pledge."""
    lic = _licence(request, identifier)
    chosen = next((a for a in CHANGES if a.value == action), None)
    if chosen is None:
        raise Http404("不支持的证照操作")
    errors: dict[str, str] = {}
    form: Any = _initial(lic)
    if request.method == "POST":
        outcome = _apply(request, lic, chosen)
        if isinstance(outcome, License):
            messages.success(request, f"已{ACTION_LABELS[chosen]}：{outcome.identifier}")
            return redirect("console-licence", identifier=outcome.identifier)
        errors, form = outcome, request.POST
    context = {
        "lic": lic,
        "action": {"value": chosen.value, "label": ACTION_LABELS[chosen]},
        "fields": surface_fields(lic.license_type.surface_schema),
        "form": form,
        "errors": errors,
        "reason_required": chosen in REASON_REQUIRED,
    }
    status = getattr(request, "refusal_status", 400) if errors else 200
    return render(request, "console/changes/change.html", context, status=status)
