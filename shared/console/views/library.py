"""Library administration, part two: API tokens, grants, the exchange queue and the
working-day overrides, each through the API's service."""

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from shared.access import grants
from shared.access.api.serializers import GrantCreateSerializer
from shared.access.selectors import grant_list
from shared.accounts import selectors, services
from shared.accounts.requests import AuthenticatedHttpRequest
from shared.calendars.models import WorkdayOverride
from shared.calendars.services import override_delete, override_set
from shared.catalog.models import LicenseType
from shared.console import roles
from shared.console.helpers import Refusal, form_date, form_ids, form_int, paginate, validated
from shared.core.errors import NotFoundError
from shared.federation import relay
from shared.federation.models import OutboxEvent
from shared.federation.selectors import outbox_list, outbox_summary

TOKEN_DAYS = (30, 90, 180, 366)


@roles.console_view(roles.manages_staff)
def tokens(request: AuthenticatedHttpRequest) -> HttpResponse:
    people = selectors.staff_list(user=request.user)
    context: dict[str, object] = {"days_offered": TOKEN_DAYS, "people": people}
    if request.method == "POST":
        username = request.POST.get("username", "")
        owner = (
            request.user
            if username == request.user.username
            else people.filter(username=username).first()
        )
        days = form_int(request.POST.get("days", ""), default=90, low=1, high=TOKEN_DAYS[-1])
        try:
            if owner is None:
                raise NotFoundError("user.not_found", "用户不存在")
            token, secret = services.token_issue(
                actor=request.user,
                user=owner,
                name=request.POST.get("name", "").strip()[:100] or "console",
                expires_at=timezone.now() + timedelta(days=days),
            )
        except Refusal as exc:
            context["error"] = exc.message
        else:
            context["issued"] = {"token": token, "secret": secret}
    context["page"] = paginate(request, selectors.token_list(user=request.user))
    status = 400 if "error" in context else 200
    return render(request, "console/admin/tokens.html", context, status=status)


@roles.console_view(roles.manages_staff)
@require_POST
def token_revoke(request: AuthenticatedHttpRequest, token_id: int) -> HttpResponse:
    try:
        token = services.token_revoke(actor=request.user, token_id=token_id)
    except Refusal as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"已吊销令牌 {token.prefix}…（{token.name}）")
    return redirect("console-tokens")


@roles.console_view(roles.library_admin)
def grant_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    errors: dict[str, str] = {}
    if request.method == "POST":
        values, errors = validated(GrantCreateSerializer, request.POST.dict())
        if values is not None:
            try:
                grant = grants.grant_create(actor=request.user, **values)
            except Refusal as exc:
                errors = {"general": exc.message}
            else:
                messages.success(
                    request, f"已授权：{grant.agency.name} · {grant.license_type.name}"
                )
                return redirect("console-grants")
    rows = grant_list(user=request.user).order_by("revoked_at", "-created_at")
    context = {
        "page": paginate(request, rows),
        "consumers": selectors.agency_list(user=request.user).filter(is_consumer=True, active=True),
        "types": LicenseType.objects.filter(state=LicenseType.State.PUBLISHED),
        "errors": errors,
        "form": request.POST if request.method == "POST" else {},
    }
    return render(request, "console/admin/grants.html", context, status=400 if errors else 200)


@roles.console_view(roles.library_admin)
@require_POST
def grant_revoke(request: AuthenticatedHttpRequest, grant_id: int) -> HttpResponse:
    try:
        grants.grant_revoke(actor=request.user, grant_id=grant_id)
    except Refusal as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "已撤销该授权")
    return redirect("console-grants")


@roles.console_view(roles.library_admin)
def outbox(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Every stream's delivery state, and the failed and dead-lettered rows to retry."""
    state = request.GET.get("state", "")
    stuck = Q(state__in=(OutboxEvent.State.FAILED, OutboxEvent.State.DEAD))
    rows = outbox_list(state=state or None) if state else outbox_list().filter(stuck)
    context = {
        "streams": outbox_summary(),
        "page": paginate(request, rows),
        "state": state,
        "states": OutboxEvent.State.choices,
        "max_attempts": settings.FEDERATION_MAX_ATTEMPTS,
    }
    return render(request, "console/admin/outbox.html", context)


@roles.console_view(roles.library_admin)
@require_POST
def outbox_retry(request: AuthenticatedHttpRequest) -> HttpResponse:
    """As POST /api/v1/federation/outbox/retry/: the rows become due now, then a sweep."""
    ids = form_ids(request, "ids")
    if request.POST.get("scope") != "all" and not ids:
        messages.error(request, "请先选择要重试的外发事件")
        return redirect("console-outbox")
    count = relay.outbox_retry(ids=ids or None)
    from shared.federation.tasks import relay_sweep

    relay_sweep.delay()
    messages.success(request, f"已重新排队 {count} 条外发事件")
    return redirect("console-outbox")


@roles.console_view(roles.library_admin)
def workdays(request: AuthenticatedHttpRequest) -> HttpResponse:
    error = ""
    if request.method == "POST":
        try:
            day = form_date(request.POST.get("day", ""), label="日期", field="day")
            row, _ = override_set(
                actor=request.user,
                day=day,
                is_workday=request.POST.get("is_workday") == "1",
                note=request.POST.get("note", ""),
            )
        except Refusal as exc:
            error = exc.message
        else:
            messages.success(request, f"已设置 {row}")
            return redirect("console-workdays")
    context = {
        "rows": WorkdayOverride.objects.filter(day__gte=timezone.localdate() - timedelta(days=366)),
        "error": error,
        "form": request.POST if request.method == "POST" else {},
    }
    return render(request, "console/admin/workdays.html", context, status=400 if error else 200)


@roles.console_view(roles.library_admin)
@require_POST
def workday_delete(request: AuthenticatedHttpRequest, override_id: int) -> HttpResponse:
    try:
        row = WorkdayOverride.objects.filter(pk=override_id).first()
        if row is None:
            raise NotFoundError("workday.not_found", "该工作日调整不存在")
        override_delete(actor=request.user, day=row.day)
    except Refusal as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "已删除该工作日调整")
    return redirect("console-workdays")
