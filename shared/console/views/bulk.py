"""The issuing agency's bulk upload (issue #15 item 4): a CSV template per type, an upload
turned into a batch by the batch service (as POST /api/v1/licenses/batches/), a page whose
progress bar follows the batch (console/bulk.js polls the JSON status view), and the per-row
error report to download, fix and upload again; and the type's template preview image."""

import uuid

from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from shared.accounts.requests import AuthenticatedHttpRequest
from shared.console import bulk_file, preview, roles
from shared.console.helpers import Refusal
from shared.console.views.issuing import _own_types, _type_or_404
from shared.licenses import batches, selectors
from shared.licenses.models import Batch, BatchItem, Mode

REPORT_KEPT = 1000
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _csv(body: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{filename}"
    return response


@roles.console_view(roles.issuer)
def bulk_template(request: AuthenticatedHttpRequest, type_code: str) -> HttpResponse:
    license_type = _type_or_404(request, type_code)
    if request.GET.get("format") == "xlsx":
        response = HttpResponse(bulk_file.template_xlsx(license_type), content_type=XLSX)
        response["Content-Disposition"] = f'attachment; filename="bulk-template-{type_code}.xlsx"'
        return response
    return _csv(bulk_file.template_csv(license_type), f"bulk-template-{type_code}.csv")


def _batch(request: AuthenticatedHttpRequest, batch_id: str) -> Batch:
    try:
        pk = uuid.UUID(batch_id)
    except ValueError:
        raise Http404("批量任务不存在") from None
    batch = selectors.batch_list(user=request.user).filter(pk=pk).first()
    if batch is None:
        raise Http404("批量任务不存在")
    return batch


def _upload(request: AuthenticatedHttpRequest) -> tuple[Batch | None, str, bytes | None]:
    """(the batch made, "", None) or (None, why not, the malformed rows' report)."""
    license_type = _own_types(request.user).filter(type_code=request.POST.get("type_code")).first()
    upload = request.FILES.get("file")
    if license_type is None:
        return None, "请选择证照类型", None
    if upload is None:
        return None, "请选择要上传的 CSV 或 XLSX 文件", None
    try:
        items, errors = bulk_file.read_upload(license_type, upload.read())
        if errors:
            message = f"文件中有 {len({e[0] for e in errors})} 行格式错误，未签发任何记录；请下载错误报告修改后重新上传"
            # The session is saved on every request: its report is kept to the first lines.
            return None, message, bulk_file.report_csv(errors[:REPORT_KEPT])
        mode = Mode.LEGACY if request.POST.get("mode") == Mode.LEGACY else Mode.BULK
        return batches.batch_create(actor=request.user, mode=mode, items=items), "", None
    except Refusal as exc:
        return None, exc.message, None


@roles.console_view(roles.issuer)
def bulk_upload(request: AuthenticatedHttpRequest) -> HttpResponse:
    """GET: the form and the agency's recent batches; POST: upload a file."""
    error, report = "", None
    if request.method == "POST":
        batch, error, report = _upload(request)
        request.session.pop("bulk_report", None)
        if batch is not None:
            return redirect("console-batch", batch_id=str(batch.pk))
        if report is not None:  # kept for one download, in this person's session
            request.session["bulk_report"] = report.decode()
    context = {
        "types": _own_types(request.user).filter(state="published").order_by("type_code"),
        "batches": selectors.batch_list(user=request.user).order_by("-created_at")[:20],
        "error": error,
        "has_report": report is not None,
        "chosen": request.POST.get("type_code", request.GET.get("type", "")),
    }
    return render(request, "console/bulk/upload.html", context, status=400 if error else 200)


@roles.console_view(roles.issuer)
def bulk_upload_report(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The malformed rows of the last refused upload."""
    body = request.session.get("bulk_report")
    if not body:
        raise Http404("没有可下载的错误报告")
    return _csv(body.encode(), "bulk-upload-errors.csv")


def _status(batch: Batch) -> dict[str, object]:
    percent = 100 if not batch.total else int(batch.processed * 100 / batch.total)
    return {
        "id": str(batch.pk),
        "state": batch.state,
        "state_label": batch.get_state_display(),
        "total": batch.total,
        "processed": batch.processed,
        "succeeded": batch.succeeded,
        "failed": batch.failed,
        "percent": percent,
        "errors": [
            {"row": row, "field": field, "message": message}
            for row, field, message in _error_rows(batch)[:100]
        ],
    }


def _error_rows(batch: Batch) -> list[tuple[int, str, str]]:
    failed = batch.items.filter(state=BatchItem.State.FAILED).order_by("index")
    return [
        (
            int(item.payload.get("source_row") or item.index + 2),
            bulk_file.column_of(item.error_code),
            item.error_message,
        )
        for item in failed
    ]


@roles.console_view(roles.issuer)
def batch_page(request: AuthenticatedHttpRequest, batch_id: str) -> HttpResponse:
    batch = _batch(request, batch_id)
    context = {
        "batch": batch,
        "status": _status(batch),
        "status_url": reverse("console-batch-status", args=[batch.pk]),
    }
    return render(request, "console/bulk/batch.html", context)


@roles.console_view(roles.issuer)
def batch_status(request: AuthenticatedHttpRequest, batch_id: str) -> JsonResponse:
    return JsonResponse(_status(_batch(request, batch_id)))


@roles.console_view(roles.issuer)
def batch_report(request: AuthenticatedHttpRequest, batch_id: str) -> HttpResponse:
    batch = _batch(request, batch_id)
    return _csv(bulk_file.report_csv(_error_rows(batch)), f"batch-{batch.pk}-errors.csv")


@roles.console_view(roles.issuer)
def type_preview(request: AuthenticatedHttpRequest, type_code: str) -> HttpResponse:
    """The type's page drawn with placeholder values, as a PNG (shared/console/preview.py)."""
    license_type = _type_or_404(request, type_code)
    try:
        png = preview.preview_png(license_type)
    except Refusal as exc:
        return HttpResponse(exc.message, status=409, content_type="text/plain; charset=utf-8")
    response = HttpResponse(png, content_type="image/png")
    response["Cache-Control"] = "private, max-age=300"
    return response
