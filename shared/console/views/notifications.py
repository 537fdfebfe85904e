"""库管理 → 通知发送: the notification outbox for the library administrator, filtered by state
and event, with the last error and a retry button for failed and dead rows (audited)."""

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from shared.accounts.requests import AuthenticatedHttpRequest
from shared.console import roles
from shared.console.helpers import Refusal, paginate
from shared.notifications.models import Notification
from shared.notifications.selectors import (
    notification_counts,
    notification_events,
    notification_list,
)
from shared.notifications.services import notification_retry


@roles.console_view(roles.library_admin)
def notifications(request: AuthenticatedHttpRequest) -> HttpResponse:
    state = request.GET.get("state", "")
    event = request.GET.get("event", "")
    if state not in Notification.State.values:
        state = ""
    counts = notification_counts()
    context = {
        "page": paginate(request, notification_list(state=state, event=event)),
        "counts": [(value, label, counts[value]) for value, label in Notification.State.choices],
        "state": state,
        "event": event,
        "states": Notification.State.choices,
        "events": notification_events(),
        "max_attempts": settings.NOTIFY_MAX_ATTEMPTS,
    }
    return render(request, "console/admin/notifications.html", context)


@roles.console_view(roles.library_admin)
@require_POST
def notification_retry_view(
    request: AuthenticatedHttpRequest, notification_id: str
) -> HttpResponse:
    try:
        notification_retry(actor=request.user, notification_id=notification_id)
    except Refusal as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "已重新排队该通知")
    return redirect("console-notifications")
