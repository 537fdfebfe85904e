"""The holder portal's watch page (/holder/watch/): subscribe, cancel, and the alerts with
发证库 / 发证单位 / 事件 / 时间. Server-rendered, in Chinese, CSRF."""

from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from shared.access.portal_views import holder_required
from shared.accounts.requests import AuthenticatedHttpRequest
from shared.core.errors import ApplicationError
from shared.watch import selectors, services


@holder_required
@require_GET
def holder_watch(request: AuthenticatedHttpRequest) -> HttpResponse:
    context = {
        "watch": selectors.holder_watch(holder=request.user),
        "alerts": list(selectors.holder_alerts(holder=request.user)[:500]),
        "message": request.session.pop("holder_watch", None),
    }
    return render(request, "watch/holder/watch.html", context)


@holder_required
@require_POST
def holder_watch_subscribe(request: AuthenticatedHttpRequest) -> HttpResponse:
    try:
        services.watch_subscribe(holder=request.user)
    except ApplicationError as exc:
        request.session["holder_watch"] = {"error": exc.message}
    else:
        request.session["holder_watch"] = {
            "ok": "已开启监视：此后全省以您名义签发、变更或使用证照，都会提醒您。"
        }
    return redirect("holder-watch")


@holder_required
@require_POST
def holder_watch_cancel(request: AuthenticatedHttpRequest) -> HttpResponse:
    try:
        services.watch_cancel(holder=request.user)
    except ApplicationError as exc:
        request.session["holder_watch"] = {"error": exc.message}
    else:
        request.session["holder_watch"] = {"ok": "已取消监视。已收到的提醒仍保留在下方。"}
    return redirect("holder-watch")
