"""The city's rectification notices in the console (node only): the list the agency's staff
(the node's administrator: every notice of the city) read, a notice with its steps, and the
answer form — `municipal_node.notices.services.notice_answer`, as POST
/api/v1/compliance/notices/<id>/answer/."""

import uuid
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from municipal_node.notices import selectors
from municipal_node.notices.models import Notice
from municipal_node.notices.services import notice_answer
from shared.accounts.models import User
from shared.accounts.requests import AuthenticatedHttpRequest
from shared.conf.divisions import CITIES
from shared.console import roles
from shared.console.helpers import Refusal, paginate
from shared.console.views.reviews_inbox import refusal_status
from shared.core.errors import ApplicationError, ForbiddenError
from shared.domain.notices import STATE_LABELS, STEP_LABELS, StepKind, allowed_steps


def may_read(user: User) -> bool:
    """Whom `notice_list` serves: staff of an agency, the node's administrator; never the
    supervisor (the hub's notices are theirs)."""
    return (user.is_library_admin or user.agency_id is not None) and not user.is_supervisor


def _label(notice: Notice) -> dict[str, Any]:
    subject = (
        notice.agency.name
        if notice.agency is not None
        else f"{CITIES.get(notice.city_code, notice.city_code)}电子证照库"
    )
    return {
        "subject": subject,
        "state_label": STATE_LABELS.get(notice.state, notice.state),  # type: ignore[call-overload]
        "may_answer": StepKind.answer in allowed_steps(state=notice.state),
    }


def _list(user: User) -> Any:
    try:
        return selectors.notice_list(user=user)
    except ForbiddenError as exc:  # the role check above keeps this out; the service decides
        raise Http404(exc.message) from exc


@roles.console_view(may_read)
def notice_inbox(request: AuthenticatedHttpRequest) -> HttpResponse:
    rows = _list(request.user)
    state = request.GET.get("state", "")
    if state in {s.value for s in STATE_LABELS}:
        rows = rows.filter(state=state)
    page = paginate(request, rows)
    context = {
        "page": page,
        "rows": [(n, _label(n)) for n in page.object_list],
        "states": [(s.value, label) for s, label in STATE_LABELS.items()],
        "params": request.GET,
    }
    return render(request, "notices/console/notices.html", context)


def _notice(request: AuthenticatedHttpRequest, notice_id: str) -> Notice:
    try:
        pk = uuid.UUID(notice_id)
        return selectors.notice_get(user=request.user, notice_id=pk)
    except (ValueError, ApplicationError) as exc:
        raise Http404("整改通知不存在") from exc


def _step_label(kind: Any) -> str:
    known = {k.value: k for k in StepKind}
    return STEP_LABELS[known[kind]] if kind in known else str(kind or "")


def _when(value: Any) -> Any:
    """A step's time (ISO text as the hub sent it) in local time, or as sent if unreadable."""
    try:
        moment = parse_datetime(str(value or ""))
    except ValueError:
        moment = None
    return timezone.localtime(moment) if moment and timezone.is_aware(moment) else value


def _steps(notice: Notice) -> list[dict[str, Any]]:
    """The hub's steps, each with its Chinese name (a kind this node does not know: as sent)."""
    return [
        {**step, "label": _step_label(step.get("kind")), "when": _when(step.get("at"))}
        for step in notice.steps
        if isinstance(step, dict)
    ]


@roles.console_view(may_read)
def notice_detail(request: AuthenticatedHttpRequest, notice_id: str) -> HttpResponse:
    """GET: the notice, its findings and steps; POST: answer it (what the agency did)."""
    notice = _notice(request, notice_id)
    error, status, text = "", 200, request.POST.get("text", "")
    if request.method == "POST":
        try:
            notice_answer(actor=request.user, notice_id=notice.pk, text=text)
        except Refusal as exc:
            error, status = exc.message, refusal_status(exc)
        else:
            messages.success(request, "已答复整改通知，等待省级库验收")
            return redirect("node-console-notice", notice_id=str(notice.pk))
    context = {
        "n": notice,
        "label": _label(notice),
        "steps": _steps(notice),
        "error": error,
        "text": text,
    }
    return render(request, "notices/console/notice.html", context, status=status)
