"""The hub's console: the 18 cities at a glance, and one city's deliveries, dead letters,
reconciliation runs (start one) and remote files (retry). Reads are the aggregation
selectors; the two writes are the API's own (`reconcile_peer`, `remote_file_retry`)."""

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from provincial_hub.aggregation.files import remote_file_retry
from provincial_hub.aggregation.models import RemoteFile
from provincial_hub.aggregation.selectors import remote_file_list
from provincial_hub.console import selectors
from shared.accounts.models import User
from shared.accounts.requests import AuthenticatedHttpRequest
from shared.conf.divisions import CITIES
from shared.console import roles
from shared.console.helpers import Refusal, form_ids
from shared.federation.keys import peer_get
from shared.federation.models import ReconcileRun


def _watches(user: User) -> bool:
    """The operator, and the supervisor read-only (the writes below stay the operator's)."""
    return user.is_library_admin or user.is_supervisor


@roles.console_view(_watches)
def dashboard(request: AuthenticatedHttpRequest) -> HttpResponse:
    cities = selectors.cities()
    counts = {h: sum(1 for c in cities if c["health"] == h) for h in selectors.HEALTH_LABELS}
    context = {
        "cities": cities,
        "counts": [(h, selectors.HEALTH_LABELS[h], n) for h, n in counts.items()],
        "chart": selectors.arrivals_chart(),
        **_lag(request),
    }
    return render(request, "hub_console/dashboard.html", context)


def _lag(request: AuthenticatedHttpRequest, city: str = "") -> dict[str, object]:
    """The sync lag chart, per hour (`?lag=hour`, the default) or per day (`?lag=day`)."""
    scale = selectors.lag_scale(request.GET.get("lag"))
    chart, buckets = selectors.lag_chart(scale=scale, city=city)
    return {"lag_scale": scale, "lag_chart": chart, "lag_buckets": buckets}


@roles.console_view(_watches)
def city(request: AuthenticatedHttpRequest, code: str) -> HttpResponse:
    if code not in CITIES:
        raise Http404("没有这个市级节点")
    found = next(c for c in selectors.cities() if c["code"] == code)
    files = remote_file_list(node=code).exclude(state=RemoteFile.State.READY)
    context = {
        "city": found,
        "chart": selectors.arrivals_chart(city=code),
        "envelopes": selectors.city_envelopes(code)[:50],
        "dead_letters": selectors.city_dead_letters(code)[:50],
        "runs": ReconcileRun.objects.filter(scope=code)[:20],
        "files": files[:100],
        **_lag(request, code),
    }
    return render(request, "hub_console/city.html", context)


@roles.console_view(roles.library_admin)
@require_POST
def reconcile(request: AuthenticatedHttpRequest, code: str) -> HttpResponse:
    """As POST /api/v1/federation/reconciliations/: the run is queued, its row shows up here."""
    try:
        peer_get(code)
    except Refusal as exc:
        messages.error(request, exc.message)
    else:
        from shared.federation.tasks import reconcile_peer

        reconcile_peer.delay(code)
        messages.success(request, f"已发起与 {CITIES.get(code, code)} 的对账，稍后刷新查看结果")
    return redirect("hub-console-city", code=code)


@roles.console_view(roles.library_admin)
@require_POST
def files_retry(request: AuthenticatedHttpRequest, code: str) -> HttpResponse:
    ids = form_ids(request, "ids")
    count = remote_file_retry(node=code, ids=ids or None)
    messages.success(request, f"已重新获取 {count} 个签章文件")
    return redirect("hub-console-city", code=code)
