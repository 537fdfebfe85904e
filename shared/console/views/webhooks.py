"""库管理 → Webhook 投递: the events a consumer system has not received (dead letters and
pending retries), their attempts, and the operator's retry (shared.webhooks)."""

from django.contrib import messages
from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from shared.accounts.requests import AuthenticatedHttpRequest
from shared.console import roles
from shared.console.helpers import Refusal, form_ids, paginate
from shared.webhooks.deliveries import webhook_retry
from shared.webhooks.models import WebhookEvent
from shared.webhooks.selectors import webhook_event_list

State = WebhookEvent.State


@roles.console_view(roles.library_admin)
def webhook_deliveries(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Dead events and pending ones that failed at least once (or one state, filtered)."""
    state = request.GET.get("state", "")
    state = state if state in State.values else ""
    events = webhook_event_list(user=request.user).select_related("subscription__license")
    if state:
        events = events.filter(state=state)
    else:
        events = events.filter(state__in=(State.DEAD, State.PENDING), attempts__gt=0)
    counts = dict(
        WebhookEvent.objects.values_list("state").annotate(n=Count("id")).values_list("state", "n")
    )
    context = {
        "page": paginate(request, events.prefetch_related("deliveries").order_by("-id")),
        "state": state,
        "states": State.choices,
        "counts": [(label, counts.get(value, 0), value) for value, label in State.choices],
    }
    return render(request, "console/admin/webhooks.html", context)


@roles.console_view(roles.library_admin)
@require_POST
def webhook_deliveries_retry(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The ticked dead events (or all of them) become due now; delivered ones never resend."""
    ids = form_ids(request, "ids")
    if request.POST.get("scope") != "all" and not ids:
        messages.error(request, "请先选择要重试的投递")
        return redirect("console-webhooks")
    event_ids = None
    if request.POST.get("scope") != "all":
        chosen = WebhookEvent.objects.filter(pk__in=ids).values_list("event_id", flat=True)
        event_ids = [str(e) for e in chosen]
    try:
        count = webhook_retry(actor=request.user, event_ids=event_ids)
    except Refusal as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"已重新排队 {count} 条投递")
    return redirect("console-webhooks")
