"""The application agency's workspace, part two (issue #15 item 5): purpose-bound copies
(加注件) and bulk-analysis requests with their exports. Each goes through the same services
as the API (`authorize_share` + `annotated_copy_create`, as POST /api/v1/share/copies/;
`bulk_request_create` and `bulk_download`, as /api/v1/bulk-requests/); every use and every
refusal is an access record, as over the API."""

import uuid
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone

from shared.access import bulk
from shared.access.api.serializers import BulkRequestCreateSerializer
from shared.access.bulk_fields import META_FIELDS, field_label
from shared.access.bulk_http import bulk_file_response
from shared.access.models import AccessRecord, BulkRequest
from shared.access.selectors import bulk_request_list, grant_list
from shared.accounts.requests import AuthenticatedHttpRequest
from shared.console import roles
from shared.console.helpers import form_int, validated
from shared.console.views.using import _matters, _purpose, _recorded
from shared.core.errors import ApplicationError, ConflictError, NotFoundError, PermanentError
from shared.domain.status import UNRELEASED
from shared.files import selectors as file_selectors
from shared.files import services, storage, verification
from shared.files.access import authorize_share, copy_download_authorize, download_record
from shared.files.models import AnnotatedCopy

Operation = AccessRecord.Operation


def _copy_create(request: AuthenticatedHttpRequest, identifier: str) -> AnnotatedCopy:
    """As CopyListApi.post: the licence as the grants show it, then the sealed copy."""
    purpose = _purpose(request)
    if not identifier:
        raise PermanentError("copy.identifier", "请填写证照标识")
    version = verification.version_lookup(identifier)
    lic = version.license if version else None
    if lic is not None and lic.status in UNRELEASED:
        lic = None  # an unreleased licence is not shared: it does not exist for the caller
    lic = authorize_share(user=request.user, license=lic, operation="copy", **purpose)
    if lic is None:
        missing = NotFoundError("license.not_found", "证照不存在")
        missing.access_recorded = True  # type: ignore[attr-defined]  # by authorize_share
        raise missing
    days = form_int(request.POST.get("days", ""), default=30, low=1, high=90)
    return services.annotated_copy_create(actor=request.user, license=lic, days=days, **purpose)


@roles.console_view(roles.consumer)
def copies(request: AuthenticatedHttpRequest) -> HttpResponse:
    """GET: the form and the agency's copies; POST: request a copy."""
    context: dict[str, Any] = {"matters": _matters(request), "form": request.GET}
    if request.method == "POST":
        identifier = request.POST.get("identifier", "").strip()[:120]
        context |= _recorded(
            request,
            Operation.COPY,
            lambda: _copy_create(request, identifier),
            **_purpose(request),
        )
        if "answer" in context:
            messages.success(request, f"已生成加注件：{identifier}")
            return redirect("console-copies")
        context["form"] = request.POST
    rows = AnnotatedCopy.objects.filter(agency=request.user.agency).select_related("license")
    context["copies"] = rows.order_by("-created_at")[:50]
    context["now"] = timezone.now()
    return render(
        request, "console/applying/copies.html", context, status=context.get("status", 200)
    )


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise Http404("记录不存在") from None


def _copy_for_download(request: AuthenticatedHttpRequest, copy_id: uuid.UUID) -> AnnotatedCopy:
    copy = file_selectors.copy_get(user=request.user, copy_id=str(copy_id))
    if copy.expires_at <= timezone.now():
        raise ConflictError("copy.expired", "加注件已过下载期限")
    copy_download_authorize(user=request.user, copy=copy)  # the grant, checked again
    return copy


@roles.console_view(roles.consumer)
def copy_download(request: AuthenticatedHttpRequest, copy_id: str) -> HttpResponse:
    """As CopyFileApi.get: the agency's own copy, before it expires; a refusal is recorded."""
    outcome = _recorded(
        request, Operation.DOWNLOAD, lambda: _copy_for_download(request, _uuid(copy_id))
    )
    copy = outcome.get("answer")
    if copy is None:
        messages.error(request, outcome["error"])
        return redirect("console-copies")
    data = storage.read(copy.path)
    download_record(
        user=request.user,
        license=copy.license,
        file="copy",
        identifier=copy.identifier,
        matter_code=copy.matter_code,
        use_cause=copy.use_cause,
        extra={"copy": str(copy.pk)},
    )
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="copy-{copy.pk}.pdf"'
    return response


def _types_and_fields(request: AuthenticatedHttpRequest) -> tuple[list[Any], list[tuple[str, str]]]:
    """The types the agency is granted, and the fields a request may name for them
    (value, label)."""
    grants = grant_list(user=request.user).filter(revoked_at__isnull=True)
    types = {g.license_type.type_code: g.license_type for g in grants}
    fields = [(name, field_label(name)) for name in META_FIELDS]
    for license_type in types.values():
        for key in (license_type.surface_schema or {}).get("properties", {}):
            if all(value != f"surface.{key}" for value, _ in fields):
                fields.append((f"surface.{key}", field_label(f"surface.{key}")))
    return sorted(types.values(), key=lambda t: t.type_code), fields


def _bulk_create(request: AuthenticatedHttpRequest) -> dict[str, str] | BulkRequest:
    post = request.POST
    data = {
        "type_codes": post.getlist("type_codes")[:20],
        "fields": post.getlist("fields")[:100],
        "period_from": post.get("period_from", ""),
        "period_to": post.get("period_to", ""),
        "matter_code": post.get("matter_code", "").strip(),
        "purpose": post.get("purpose", "").strip(),
        "row_cap": post.get("row_cap", ""),
        "format": post.get("format", "csv"),
    }
    values, errors = validated(BulkRequestCreateSerializer, data)
    if values is None:
        return errors
    return bulk.bulk_request_create(actor=request.user, **values)


@roles.console_view(roles.consumer)
def bulk_requests(request: AuthenticatedHttpRequest) -> HttpResponse:
    """GET: the form and the agency's requests with their exports; POST: apply."""
    types, fields = _types_and_fields(request)
    context: dict[str, Any] = {"types": types, "fields": fields, "matters": _matters(request)}
    context["form"], context["errors"] = {}, {}
    if request.method == "POST":
        outcome = _recorded(request, Operation.BULK_REQUEST, lambda: _bulk_create(request))
        answer = outcome.get("answer")
        if isinstance(answer, BulkRequest):
            messages.success(request, "已提交批量分析申请，等待签发单位审批")
            return redirect("console-bulk-requests")
        context["errors"] = answer or {"general": outcome.get("error", "")}
        context["status"] = outcome.get("status", 400) if answer is None else 400
        context["form"] = request.POST
    context["chosen_types"] = request.POST.getlist("type_codes")
    context["chosen_fields"] = request.POST.getlist("fields")
    rows = bulk_request_list(user=request.user).prefetch_related("license_types")
    context["requests"] = rows.order_by("-created_at")[:50]
    return render(request, "console/applying/bulk.html", context, status=context.get("status", 200))


@roles.console_view(roles.consumer)
def bulk_request_download(request: AuthenticatedHttpRequest, request_id: str) -> HttpResponseBase:
    pk = _uuid(request_id)
    try:
        found, path = bulk.bulk_download(user=request.user, bulk_request_id=pk)
    except ApplicationError as exc:
        if exc.status_code == 404:
            raise Http404(exc.message) from exc
        messages.error(request, exc.message)
        return redirect("console-bulk-requests")
    return bulk_file_response(found, path)
