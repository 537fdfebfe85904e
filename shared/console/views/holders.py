"""Library administration: holder accounts and the reset of their one-time code (a lost
phone). The write is `shared.identity.services.holder_otp_reset` (audited with actor and
reason); the holder's next sign-in leads to a new enrolment."""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from django_otp.plugins.otp_totp.models import TOTPDevice

from shared.accounts.requests import AuthenticatedHttpRequest
from shared.console import roles
from shared.console.helpers import Refusal, paginate
from shared.identity import selectors, services


@roles.console_view(roles.library_admin)
def holders(request: AuthenticatedHttpRequest) -> HttpResponse:
    search = request.GET.get("q", "")[:100]
    page = paginate(request, selectors.holder_account_list(user=request.user, search=search))
    enrolled = set(
        TOTPDevice.objects.filter(user__in=list(page), confirmed=True).values_list(
            "user_id", flat=True
        )
    )
    context = {"page": page, "q": search, "enrolled": enrolled}
    return render(request, "console/admin/holders.html", context)


@roles.console_view(roles.library_admin)
@require_POST
def holder_otp_reset(request: AuthenticatedHttpRequest, username: str) -> HttpResponse:
    holder = selectors.holder_account_list(user=request.user).filter(username=username).first()
    if holder is None:
        messages.error(request, "持证人账户不存在")
        return redirect("console-holders")
    try:
        services.holder_otp_reset(
            actor=request.user, holder=holder, reason=request.POST.get("reason", "")[:300]
        )
    except Refusal as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, f"已重置 {holder.username} 的动态口令和恢复码，持证人下次登录时重新绑定"
        )
    return redirect("console-holders")
