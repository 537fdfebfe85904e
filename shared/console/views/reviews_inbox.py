"""The issuing agency's review inbox (复核申请, art. 24): the requests about its licences with
their deadlines (provisional ones marked 暂定), working days left, the overdue flag and the
reminders the beat gave; a request's detail with its fields, reason and attachments; and the
answer — confirmed, corrected (the licence amended with the type's surface fields) or
rejected — through `shared.reviews.services.review_answer`, as POST /api/v1/reviews/<id>/answer/.
"""

from datetime import date
from typing import Any

from django.contrib import messages
from django.db.models import Case, Value, When
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.utils import timezone

from shared.accounts.requests import AuthenticatedHttpRequest
from shared.calendars.selectors import workday_calendar
from shared.console import roles
from shared.console.helpers import Refusal, form_date, paginate, refusal_field
from shared.console.surface_form import surface_errors, surface_fields, surface_values
from shared.core.api.exceptions import CONFLICT_CODES
from shared.core.errors import ApplicationError
from shared.domain.workdays import WorkdayCalendar
from shared.reviews import selectors
from shared.reviews.models import ReviewRequest
from shared.reviews.services import METADATA_FIELDS, review_answer

State = ReviewRequest.State
OUTCOMES = [
    (State.CONFIRMED.value, "确认无误"),
    (State.CORRECTED.value, "已更正（同时变更证照）"),
    (State.REJECTED.value, "不予更正"),
]


def refusal_status(exc: Exception) -> int:
    """The status the API answers a service's refusal with (a page says it the same way)."""
    if isinstance(exc, ApplicationError):
        return exc.status_code
    return 409 if getattr(exc, "code", "") in CONFLICT_CODES else 400


def _inbox(request: AuthenticatedHttpRequest) -> Any:
    """The requests about this agency's licences (an agency that also uses licences sees the
    ones it filed elsewhere, in the API's list, not in this inbox)."""
    rows = selectors.review_list(user=request.user).filter(issuer_id=request.user.agency_id)
    return selectors.with_details(rows)


def days_left(review: ReviewRequest, *, today: date, calendar: WorkdayCalendar) -> int | None:
    """Working days after today up to the deadline (0 on the day itself); None once answered
    or past it (the overdue flag says so)."""
    if review.state != State.OPEN or today > review.deadline:
        return None
    return calendar.workdays_between(today, review.deadline)[0]


def _with_clock(reviews: Any) -> list[ReviewRequest]:
    calendar, today = workday_calendar(), timezone.localdate()
    shown = list(reviews)
    for review in shown:
        review.days_left = days_left(review, today=today, calendar=calendar)
        review.past_deadline = review.state == State.OPEN and today > review.deadline
    return shown


@roles.console_view(roles.issuer)
def review_inbox(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Open requests first, the nearest deadline first; filter by state and overdue."""
    rows = _inbox(request)
    state = request.GET.get("state", "")
    if state in State.values:
        rows = rows.filter(state=state)
    if request.GET.get("overdue") == "1":
        rows = rows.filter(overdue=True)
    waiting = Case(When(state=State.OPEN, then=Value(0)), default=Value(1))
    page = paginate(request, rows.order_by(waiting, "deadline", "received_at", "id"))
    context = {
        "page": page,
        "rows": _with_clock(page.object_list),
        "states": State.choices,
        "params": request.GET,
        "open_count": _inbox(request).filter(state=State.OPEN).count(),
    }
    return render(request, "console/governance/reviews.html", context)


def _review(request: AuthenticatedHttpRequest, review_id: str) -> ReviewRequest:
    try:
        found = selectors.review_get(user=request.user, review_id=review_id)
    except ApplicationError as exc:
        raise Http404(exc.message) from exc
    review = _inbox(request).filter(pk=found.pk).select_related("license").first()
    if review is None:  # visible to a consumer-and-issuer as its own filing, not in this inbox
        raise Http404("复核申请不存在")
    return review


def _field_labels(review: ReviewRequest) -> list[str]:
    return [f"{METADATA_FIELDS.get(name, name)}" for name in review.fields]


def _answer_values(review: ReviewRequest, post: QueryDict) -> dict[str, Any]:
    """The form as `review_answer`'s arguments; the amend fields only for a corrected answer,
    and of those only what was changed (the surface is sent whole, as the API takes it)."""
    outcome = post.get("outcome", "")
    values: dict[str, Any] = {"outcome": outcome, "reason": post.get("reason", "")}
    if outcome != State.CORRECTED:
        return values
    lic = review.license
    surface = surface_values(lic.license_type.surface_schema or {}, post)
    if surface != lic.surface:
        values["surface"] = surface
    holder_name = post.get("holder_name", "").strip()
    if holder_name and holder_name != lic.holder_name:
        values["holder_name"] = holder_name
    valid_to = post.get("valid_to", "").strip()
    if valid_to:
        values["valid_to"] = form_date(valid_to, label="有效期截止日期", field="valid_to")
        values["valid_to_given"] = values["valid_to"] != lic.valid_to
        if not values["valid_to_given"]:
            del values["valid_to"]
    return values


def _form(review: ReviewRequest, post: QueryDict | None) -> dict[str, Any]:
    lic = review.license
    form: dict[str, Any] = {"holder_name": lic.holder_name, "outcome": "", "reason": ""}
    for field in surface_fields(lic.license_type.surface_schema or {}):
        value = (lic.surface or {}).get(field.name, "")
        form[field.input_name] = value
    if post is not None:
        form.update({k: v for k, v in post.items() if k != "csrfmiddlewaretoken"})
    return form


@roles.console_view(roles.issuer)
def review_detail(request: AuthenticatedHttpRequest, review_id: str) -> HttpResponse:
    """GET: the request and, while open, the answer form; POST: answer it."""
    review = _review(request, review_id)
    error, errors, status = "", {}, 200
    if request.method == "POST":
        try:
            values = _answer_values(review, request.POST)
            review_answer(actor=request.user, review_id=review.pk, **values)
        except Refusal as exc:
            error, status = exc.message, refusal_status(exc)
            detail = getattr(exc, "detail", None)
            errors = surface_errors(detail) or {refusal_field(exc) or "general": exc.message}
        else:
            messages.success(request, "已答复复核申请")
            return redirect("console-review", review_id=str(review.pk))
    shown = _with_clock([review])[0]
    context = {
        "r": shown,
        "lic": review.license,
        "field_labels": _field_labels(review),
        "fields": surface_fields(review.license.license_type.surface_schema or {}),
        "outcomes": OUTCOMES,
        "form": _form(review, request.POST if request.method == "POST" else None),
        "error": error,
        "errors": errors,
    }
    return render(request, "console/governance/review.html", context, status=status)
