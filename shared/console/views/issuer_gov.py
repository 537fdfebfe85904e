"""The issuing agency's other governance screens: the annual-inspection inbox (网络年检, approve
or refuse with a reason: `shared.inspections.services`), who used its licences and why (the
access log as GET /api/v1/access-log/ shows it to an issuer, with the CSV export's link), and
the bulk-analysis requests it decides (`shared.access.bulk.bulk_request_decide`)."""

import uuid
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from shared.access import selectors as access_selectors
from shared.access.api.serializers import BulkDecisionSerializer
from shared.access.api.views import AccessRecordFilterSet
from shared.access.bulk import bulk_request_decide
from shared.access.models import AccessRecord, BulkRequest
from shared.accounts.requests import AuthenticatedHttpRequest
from shared.console import roles
from shared.console.helpers import Refusal, form_int, paginate, validated
from shared.console.views.reviews_inbox import refusal_status
from shared.core.errors import ApplicationError
from shared.inspections import selectors as inspection_selectors
from shared.inspections.models import Inspection
from shared.inspections.services import inspection_approve, inspection_refuse

# --- annual inspections ----------------------------------------------------------------------


@roles.console_view(roles.issuer)
def inspection_inbox(request: AuthenticatedHttpRequest) -> HttpResponse:
    """By state (待审核 first by default) and year."""
    rows = inspection_selectors.inspection_list(user=request.user)
    state = request.GET.get("state", Inspection.State.SUBMITTED)
    if state in Inspection.State.values:
        rows = rows.filter(state=state)
    year = form_int(request.GET.get("year", ""), default=0, low=0, high=9999)
    if year:
        rows = rows.filter(year=year)
    context = {
        "page": paginate(request, rows),
        "states": Inspection.State.choices,
        "state": state,
        "year": year or "",
        "params": request.GET,
    }
    return render(request, "console/governance/inspections.html", context)


def _inspection(request: AuthenticatedHttpRequest, inspection_id: str) -> Inspection:
    try:
        return inspection_selectors.inspection_get(user=request.user, inspection_id=inspection_id)
    except ApplicationError as exc:
        raise Http404(exc.message) from exc


@roles.console_view(roles.issuer)
def inspection_detail(request: AuthenticatedHttpRequest, inspection_id: str) -> HttpResponse:
    """GET: the submission with its materials; POST: approve or refuse (with the reason)."""
    inspection = _inspection(request, inspection_id)
    error, status, reason = "", 200, request.POST.get("reason", "")
    if request.method == "POST":
        decision = request.POST.get("decision", "")
        try:
            if decision == "approve":
                inspection_approve(actor=request.user, inspection_id=inspection.pk, reason=reason)
            elif decision == "refuse":
                inspection_refuse(actor=request.user, inspection_id=inspection.pk, reason=reason)
            else:
                raise Http404("不支持的审核操作")
        except Refusal as exc:
            error, status = exc.message, refusal_status(exc)
        else:
            messages.success(request, "已审核年检申请")
            return redirect("console-inspection", inspection_id=str(inspection.pk))
    context = {
        "i": inspection,
        "materials": inspection.materials.defer("content").order_by("index"),
        "error": error,
        "reason": reason,
    }
    return render(request, "console/governance/inspection.html", context, status=status)


# --- usage of the agency's licences ----------------------------------------------------------


def _usage(request: AuthenticatedHttpRequest) -> Any:
    """The uses of this agency's licences (an agency that also uses licences sees its own
    uses over the API; this screen is about who used *its* licences)."""
    agency = request.user.agency
    assert agency is not None  # roles.issuer
    visible = access_selectors.access_log_visible(user=request.user)
    return visible.filter(issuer_code=agency.code).order_by("-id")


@roles.console_view(roles.issuer)
def usage(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Filter by time, operation, outcome, user agency, matter, type and licence — the API's
    own filters, so the CSV link below exports exactly what is shown."""
    query = request.GET.copy()
    query.pop("page", None)
    for name in ("since", "until"):  # a day typed in the form: its start, local time
        value = query.get(name, "")
        if len(value) == 10:
            query[name] = f"{value}T00:00:00+08:00"
    filters = AccessRecordFilterSet(query, queryset=_usage(request))
    rows = filters.qs if filters.is_valid() else _usage(request).none()
    context = {
        "page": paginate(request, rows),
        "params": request.GET,
        "errors": {k: v[0] for k, v in filters.errors.items()},
        "operations": AccessRecord.Operation.choices,
        "outcomes": AccessRecord.Outcome.choices,
        "export_query": query.urlencode(),
    }
    return render(request, "console/governance/usage.html", context)


# --- bulk-analysis requests ------------------------------------------------------------------


def _bulk_rows(request: AuthenticatedHttpRequest) -> Any:
    rows = access_selectors.bulk_request_list(user=request.user)
    return rows.filter(issuer_id=request.user.agency_id).prefetch_related("license_types")


@roles.console_view(roles.issuer)
def bulk_inbox(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Pending requests to decide first; the decided ones after, for the record."""
    rows = _bulk_rows(request)
    context = {
        "pending": rows.filter(state=BulkRequest.State.PENDING).order_by("created_at"),
        "page": paginate(
            request, rows.exclude(state=BulkRequest.State.PENDING).order_by("-created_at")
        ),
        "params": request.GET,
    }
    return render(request, "console/governance/bulk.html", context)


@roles.console_view(roles.issuer)
@require_POST
def bulk_decide(request: AuthenticatedHttpRequest, request_id: str, decision: str) -> HttpResponse:
    """Approve (the fields ticked: the requested ones, or fewer) or refuse with a reason, as
    POST /api/v1/bulk-requests/<id>/<approve|refuse>/; a refusal of the service is shown.
    The approval form marks itself (`fields_shown`) so that unticking every box is an empty
    approval the service refuses, not "all the requested fields"."""
    try:
        pk = uuid.UUID(request_id)
    except ValueError:
        raise Http404("批量分析申请不存在") from None
    if decision not in ("approve", "refuse") or not _bulk_rows(request).filter(pk=pk).exists():
        raise Http404("批量分析申请不存在")
    data: dict[str, Any] = {"reason": request.POST.get("reason", "")}
    picked = decision == "approve" and request.POST.get("fields_shown") == "1"
    if picked:
        data["fields"] = request.POST.getlist("fields")[:100]
    values, errors = validated(BulkDecisionSerializer, data)
    if values is None:  # what the API's input serializer refuses (too long, NUL characters)
        label = "拒绝理由" if "reason" in errors else "字段"
        messages.error(request, f"{label}：{next(iter(errors.values()))}")
        return redirect("console-bulk-approvals")
    try:
        bulk_request_decide(
            actor=request.user,
            bulk_request_id=pk,
            approve=decision == "approve",
            reason=values.get("reason", ""),
            fields=values.get("fields", []) if picked else None,
        )
    except Refusal as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "已批准批量分析申请" if decision == "approve" else "已拒绝")
    return redirect("console-bulk-approvals")
