"""The holder portal's annual inspection pages (持证人服务 · 网络年检): server-rendered, in
Chinese, behind the portal's sign-in with a one-time code (`holder_required`), CSRF-checked."""

from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from shared.access.portal import holder_licenses
from shared.access.portal_views import holder_required
from shared.accounts.requests import AuthenticatedHttpRequest
from shared.core.attachments import max_bytes
from shared.core.errors import ApplicationError
from shared.inspections import selectors, services


@holder_required
def holder_inspections(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The holder's licences that need annual inspection, a form for each, and their
    inspections with the issuer's answers."""
    licences = [
        lic
        for lic in holder_licenses(holder=request.user)
        if lic.license_type.annual_inspection and lic.status in ("valid", "suspended")
    ]
    context = {
        "licences": licences,
        "inspections": list(selectors.inspection_list(user=request.user)[:100]),
        "result": request.session.pop("holder_inspection", None),
    }
    return render(request, "inspections/holder/inspections.html", context)


@holder_required
@require_POST
def holder_inspection_submit(request: AuthenticatedHttpRequest) -> HttpResponse:
    year_text = request.POST.get("year", "").strip()
    limit = max_bytes() + 1
    try:
        year = int(year_text) if year_text else None
    except ValueError:
        year = -1  # refused by the service with its message
    try:
        inspection = services.inspection_submit(
            actor=request.user,
            identifier=request.POST.get("identifier", "")[:120],
            year=year,
            note=request.POST.get("note", ""),
            files=[(f.name or "", f.read(limit)) for f in request.FILES.getlist("attachments")],
        )
    except ApplicationError as exc:
        request.session["holder_inspection"] = {"error": exc.message}
    else:
        request.session["holder_inspection"] = {
            "ok": f"已提交 {inspection.year} 年度年检申请，请等待签发单位审核"
        }
    return redirect("holder-inspections")
