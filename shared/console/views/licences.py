"""The issuing agency's workspace, part two: licence search and detail (versions, events,
files, QR), and every lifecycle action behind a confirmation that takes its reason.
Reads are the API's selectors, writes the API's services (`license_act`)."""

from typing import Any

from django.contrib import messages
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from shared.accounts.requests import AuthenticatedHttpRequest
from shared.catalog.selectors import license_type_list
from shared.console import roles
from shared.console.helpers import Refusal, paginate, qr_data_uri
from shared.console.views.changes import change_actions
from shared.core.errors import ApplicationError
from shared.domain.status import ACTION_LABELS, Action, Status, allowed_actions
from shared.files import documents
from shared.files.access import download_record
from shared.files.selectors import file_status
from shared.licenses import lookups, selectors
from shared.licenses.api.views import LicenseFilterSet
from shared.licenses.models import STATUS_CHOICES, License, LicenseVersion
from shared.licenses.services import REASON_REQUIRED, license_act

# Actions a confirmation page takes with a reason alone; renew, amend and pledge need new
# dates or surface fields: their forms are in views/changes.py.
CONFIRMABLE = (
    Action.approve,
    Action.return_,
    Action.suspend,
    Action.resume,
    Action.revoke,
    Action.annul,
    Action.cancel,
    Action.release,
)
DANGER = {Action.revoke, Action.annul, Action.cancel, Action.suspend, Action.return_}


def _licence(request: AuthenticatedHttpRequest, identifier: str) -> License:
    try:
        return selectors.license_get(user=request.user, identifier=identifier)
    except ApplicationError as exc:
        raise Http404(exc.message) from exc


@roles.console_view(roles.issuer)
def licence_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Search by text (identifier, number, holder name), holder code, status and type."""
    rows = LicenseFilterSet(request.GET, queryset=selectors.license_list(user=request.user)).qs
    text = request.GET.get("q", "").strip()[:120]
    if text:
        rows = rows.filter(
            Q(identifier=text) | Q(number__icontains=text) | Q(holder_name__icontains=text)
        )
    context = {
        "page": paginate(request, rows.order_by("-issue_date", "-id")),
        "q": text,
        "statuses": STATUS_CHOICES,
        "types": license_type_list(user=request.user).filter(issuer_id=request.user.agency_id),
        "params": request.GET,
    }
    return render(request, "console/issuer/licences.html", context)


def _actions(lic: License) -> list[dict[str, Any]]:
    allowed = allowed_actions(status=Status(lic.status), pledged=lic.pledged)
    return [
        {"value": a.value, "label": ACTION_LABELS[a], "danger": a in DANGER}
        for a in allowed
        if a in CONFIRMABLE
    ]


@roles.console_view(roles.issuer)
def licence_detail(request: AuthenticatedHttpRequest, identifier: str) -> HttpResponse:
    lic = _licence(request, identifier)
    context = {
        "lic": lic,
        "versions": selectors.license_versions(license=lic),
        "events": selectors.license_events(license=lic),
        "file": file_status(lic=lic),
        "actions": _actions(lic),
        "changes": change_actions(lic),  # renew, amend, pledge: forms of their own
        "released": lic.status not in (Status.pending, Status.returned),
    }
    return render(request, "console/issuer/licence.html", context)


@roles.console_view(roles.issuer)
def licence_act(request: AuthenticatedHttpRequest, identifier: str, action: str) -> HttpResponse:
    """GET: the confirmation (what will happen, and the reason); POST: do it."""
    lic = _licence(request, identifier)
    chosen = next((a for a in CONFIRMABLE if a.value == action), None)
    if chosen is None:
        raise Http404("不支持的证照操作")
    error, reason = "", request.POST.get("reason", "").strip()
    if request.method == "POST":
        try:
            lic, _ = license_act(
                actor=request.user,
                identifier=lic.identifier,
                action=chosen,
                reason=reason,
                expected_version=int(request.POST.get("version", "0") or 0) or None,
            )
        except Refusal as exc:
            error = exc.message
        else:
            messages.success(request, f"已{ACTION_LABELS[chosen]}：{lic.identifier}")
            return redirect("console-licence", identifier=lic.identifier)
    context = {
        "lic": lic,
        "action": {
            "value": chosen.value,
            "label": ACTION_LABELS[chosen],
            "danger": chosen in DANGER,
        },
        "reason_required": chosen in REASON_REQUIRED,
        "reason": reason,
        "error": error,
    }
    return render(request, "console/issuer/act.html", context, status=409 if error else 200)


@roles.console_view(roles.issuer)
@require_POST
def licence_qr(request: AuthenticatedHttpRequest, identifier: str) -> HttpResponse:
    """A new QR token for the licence shown at the counter (as POST …/qr-token/), recorded."""
    lic = _licence(request, identifier)
    if lic.status in (Status.pending, Status.returned):
        messages.error(request, "证照尚未生效，不能生成二维码")
        return redirect("console-licence", identifier=lic.identifier)
    version = LicenseVersion.objects.get(license=lic, **lookups.version_terms(lic.identifier))
    qr = documents.qr_token_issue(lic=lic, version=version)
    download_record(user=request.user, license=lic, file="qr-token", identifier=lic.identifier)
    context = {"lic": lic, "qr": qr, "image": qr_data_uri(qr.url)}
    return render(request, "console/issuer/qr.html", context)
