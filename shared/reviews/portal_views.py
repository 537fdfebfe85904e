"""The holder portal's review requests (art. 24, 29): a form on one of the holder's licences,
and the holder's requests with their state and answer. Server-rendered, in Chinese, CSRF."""

from typing import Any

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from shared.access import portal
from shared.access.portal_views import holder_required
from shared.accounts.requests import AuthenticatedHttpRequest
from shared.core.attachments import DEFAULT_MAX_COUNT, max_bytes
from shared.core.errors import ApplicationError
from shared.domain.errors import DomainError
from shared.licenses.models import License
from shared.reviews import selectors, services
from shared.reviews.api.uploads import uploaded_files


def _choices(lic: License) -> list[tuple[str, str]]:
    """(field name, label) of what a holder may say is wrong on this licence."""
    return [
        (name, services.METADATA_FIELDS.get(name, f"照面信息：{name}"))
        for name in services.field_names(lic.license_type)
    ]


def _form(
    request: AuthenticatedHttpRequest, lic: License, *, error: str = "", status: int = 200
) -> HttpResponse:
    context: dict[str, Any] = {
        "lic": lic,
        "choices": _choices(lic),
        "chosen": request.POST.getlist("fields"),
        "reason": request.POST.get("reason", ""),
        "error": error,
        "local": lic.library_code == settings.LIBRARY_CODE,
        "max_mb": max_bytes() // (1024 * 1024),
        "max_count": DEFAULT_MAX_COUNT,
    }
    return render(request, "reviews/holder/form.html", context, status=status)


@holder_required
@require_http_methods(["GET", "POST"])
def holder_review_new(request: AuthenticatedHttpRequest, identifier: str) -> HttpResponse:
    try:
        lic = portal.holder_license(holder=request.user, identifier=identifier[:120])
    except ApplicationError:
        return render(request, "reviews/holder/missing.html", status=404)
    if request.method == "GET":
        return _form(request, lic)
    try:
        review = services.review_create(
            actor=request.user,
            identifier=lic.identifier,
            reason=request.POST.get("reason", ""),
            fields=request.POST.getlist("fields"),
            attachments=uploaded_files(request.FILES.getlist("attachments")),
        )
    except (ApplicationError, DomainError) as exc:
        return _form(request, lic, error=exc.message, status=exc_status(exc))
    request.session["holder_review"] = {"id": str(review.pk), "deadline": str(review.deadline)}
    return redirect("holder-reviews")


def exc_status(exc: ApplicationError | DomainError) -> int:
    return exc.status_code if isinstance(exc, ApplicationError) else 400


@holder_required
@require_http_methods(["GET"])
def holder_reviews(request: AuthenticatedHttpRequest) -> HttpResponse:
    reviews = list(selectors.with_details(selectors.review_list(user=request.user))[:200])
    for review in reviews:  # names as the holder reads them
        review.field_labels = [services.METADATA_FIELDS.get(f, f) for f in review.fields]  # type: ignore[attr-defined]
    context = {"reviews": reviews, "created": request.session.pop("holder_review", None)}
    return render(request, "reviews/holder/list.html", context)
