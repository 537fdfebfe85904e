"""行业电子证照库 (art. 9) at the hub: each sector library with its health as its calls say
(`provincial_hub.aggregation.selectors.sector_library_health`), and the operator's 检测 button,
which calls the library's health check through `sector_library_probe` (recorded as any call).
The supervisor reads the screen; the probe is the operator's."""

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from provincial_hub.aggregation.models import SectorLibrary
from provincial_hub.aggregation.sector import sector_library_probe
from provincial_hub.aggregation.selectors import SECTOR_SLOW_MS, sector_library_health
from shared.accounts.models import User
from shared.accounts.requests import AuthenticatedHttpRequest
from shared.console import roles


def reads_sectors(user: User) -> bool:
    """The hub's operator, and the supervisor read-only."""
    return user.is_library_admin or user.is_supervisor


@roles.console_view(reads_sectors)
def sectors(request: AuthenticatedHttpRequest) -> HttpResponse:
    libraries = sector_library_health()
    context = {"libraries": libraries, "slow_seconds": SECTOR_SLOW_MS / 1000}
    return render(request, "hub_console/sectors.html", context)


@roles.console_view(roles.library_admin)
@require_POST
def probe(request: AuthenticatedHttpRequest, code: str) -> HttpResponse:
    library = SectorLibrary.objects.filter(code=code).first()
    if library is None:
        raise Http404("没有这个行业电子证照库")
    call = sector_library_probe(library=library, actor=request.user.username)
    if call.ok:
        messages.success(request, f"{library.name} 检测通过，用时 {call.latency_ms:.0f} 毫秒")
    else:
        messages.error(request, f"{library.name} 检测失败：{call.error or '无应答'}")
    return redirect(f"{reverse('hub-console-sectors')}#sector-{library.code}")
