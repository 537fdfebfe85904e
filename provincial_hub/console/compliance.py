"""The supervisor's compliance screens at the hub (art. 31, 33): rectification notices (filter,
detail with every step, issue by hand, accept or reopen with a reason) and the daily
evaluations (run one now). Reads are `provincial_hub.compliance.selectors`; every write is the
service the API calls (`notice_issue`, `notice_decide`, `compliance_evaluate`), which checks the
role again."""

import uuid
from datetime import date, timedelta
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from provincial_hub.compliance import selectors, services
from provincial_hub.compliance.evaluation import compliance_evaluate
from provincial_hub.compliance.models import RectificationNotice
from shared.accounts.models import User
from shared.accounts.requests import AuthenticatedHttpRequest
from shared.conf.divisions import CITIES
from shared.console import roles
from shared.console.helpers import Refusal, paginate, refusal_field
from shared.domain.notices import (
    AWAITING_AGENCY,
    RULE_LABELS,
    STATE_LABELS,
    NoticeState,
    StepKind,
)

AT_RISK_DAYS = 3  # an agency with this few days left is shown in amber before it is late


def reads_notices(user: User) -> bool:
    """The supervisor and the hub's operator (the selector's own rule for the whole list)."""
    return user.is_supervisor or user.is_library_admin


def deadline_mark(notice: RectificationNotice, today: date) -> str:
    """`overdue` / `at-risk` / "" for a notice still waiting on its agency."""
    if notice.state not in AWAITING_AGENCY or notice.state == NoticeState.escalated:
        return ""
    if notice.deadline < today:
        return "overdue"
    return "at-risk" if notice.deadline <= today + timedelta(days=AT_RISK_DAYS) else ""


def _row(notice: RectificationNotice, today: date) -> dict[str, Any]:
    return {
        "notice": notice,
        "subject": selectors.subject_name(notice),
        "city": CITIES.get(notice.city_code, "省级"),
        "rule_label": RULE_LABELS.get(notice.rule, notice.rule),  # type: ignore[call-overload]
        "state_label": STATE_LABELS.get(notice.state, notice.state),  # type: ignore[call-overload]
        "mark": deadline_mark(notice, today),
    }


@roles.console_view(reads_notices)
def notices(request: AuthenticatedHttpRequest) -> HttpResponse:
    chosen = {k: request.GET.get(k, "").strip() for k in ("state", "rule", "city")}
    rows = selectors.notice_list(user=request.user)
    if chosen["state"] in STATE_LABELS:
        rows = rows.filter(state=chosen["state"])
    if chosen["rule"] in RULE_LABELS:
        rows = rows.filter(rule=chosen["rule"])
    if chosen["city"]:
        rows = rows.filter(city_code=chosen["city"][:6])
    page = paginate(request, rows)
    today = timezone.localdate()
    context = {
        "page": page,
        "rows": [_row(n, today) for n in page.object_list],
        "chosen": chosen,
        "states": [(s.value, label) for s, label in STATE_LABELS.items()],
        "rules": [(r.value, label) for r, label in RULE_LABELS.items()],
        "cities": sorted(CITIES.items()),
    }
    return render(request, "hub_console/compliance/notices.html", context)


@roles.console_view(reads_notices)
def notice(request: AuthenticatedHttpRequest, notice_id: str) -> HttpResponse:
    found = _notice_or_404(request.user, notice_id)
    context = {**_row(found, timezone.localdate()), "steps": found.steps.all()}
    return render(request, "hub_console/compliance/notice.html", context)


def _notice_or_404(user: User, notice_id: str) -> RectificationNotice:
    """The notice, or the console's 404 page (a malformed id is a notice that does not exist)."""
    try:
        uuid.UUID(notice_id)
        return selectors.notice_get(user=user, notice_id=notice_id)
    except ValueError as exc:
        raise Http404("整改通知不存在") from exc
    except Refusal as exc:
        raise Http404(exc.message) from exc


@roles.console_view(roles.supervisor)
@require_POST
def notice_decide(request: AuthenticatedHttpRequest, notice_id: str, kind: str) -> HttpResponse:
    """Accept (close) or reopen, with the reason the service requires."""
    if kind not in (StepKind.accept, StepKind.reopen):
        raise Http404("不支持的整改通知操作")
    found = _notice_or_404(request.user, notice_id)
    step = StepKind(kind)
    try:
        services.notice_decide(
            actor=request.user,
            notice_id=found.pk,
            kind=step,
            reason=request.POST.get("reason", ""),
        )
    except Refusal as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "已验收，整改通知关闭" if step == StepKind.accept else "已退回")
    return redirect("hub-compliance-notice", notice_id=found.pk)


@roles.console_view(roles.supervisor)
def notice_issue(request: AuthenticatedHttpRequest) -> HttpResponse:
    """A notice by hand: an agency (by its code), or a city's node as a whole."""
    values = {k: request.POST.get(k, "").strip() for k in ("rule", "agency_code", "city_code")}
    values["summary"] = request.POST.get("summary", "")
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            agency = None
            if values["agency_code"]:
                agency = services.agency_for_notice(code=values["agency_code"])
            created = services.notice_issue(
                actor=request.user,
                rule=values["rule"] if values["rule"] in RULE_LABELS else "manual",
                agency=agency,
                city_code=values["city_code"] if values["city_code"] in CITIES else "",
                summary=values["summary"],
            )
        except Refusal as exc:
            field = refusal_field(exc)
            errors[field if field in ("agency_code", "summary") else "general"] = exc.message
        else:
            messages.success(request, f"已下发整改通知：{selectors.subject_name(created)}")
            return redirect("hub-compliance-notice", notice_id=created.pk)
    context = {
        "values": values,
        "errors": errors,
        "rules": [(r.value, label) for r, label in RULE_LABELS.items()],
        "cities": sorted(CITIES.items()),
    }
    return render(
        request, "hub_console/compliance/issue.html", context, status=400 if errors else 200
    )


@roles.console_view(reads_notices)
def runs(request: AuthenticatedHttpRequest) -> HttpResponse:
    page = paginate(request, selectors.evaluation_runs())
    context = {"page": page}
    return render(request, "hub_console/compliance/runs.html", context)


@roles.console_view(reads_notices)
@require_POST
def run_now(request: AuthenticatedHttpRequest) -> HttpResponse:
    """What beat does daily (`compliance_evaluate`), now: idempotent, so a second click makes
    no second notice for the same breach."""
    run = compliance_evaluate(trigger="console")
    messages.success(
        request, f"考核完成：发现问题 {run.breaches} 项，新下发整改通知 {run.notices_created} 份"
    )
    return redirect("hub-compliance-runs")
