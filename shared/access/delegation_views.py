"""The holder portal's delegation screens (issue #14 item 1): a legal person grants and revokes
its staff's right to act for it; a staff member switches between acting for themselves and
for a legal person that delegated to them ("代表 <法人名称>")."""

from typing import Any

from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from shared.access.portal_views import ACTING_KEY, HolderHttpRequest, holder_required
from shared.core.errors import ApplicationError
from shared.delegation import selectors, services


@holder_required
@require_POST
def holder_act(request: HolderHttpRequest) -> HttpResponse:
    """Switch to acting for a legal person (`delegation` = its id) or back to oneself (empty).
    A delegation not held, expired or revoked is refused (403) and the session is unchanged."""
    chosen = request.POST.get("delegation", "").strip()[:64]
    if not chosen:
        request.session.pop(ACTING_KEY, None)
        return redirect("holder-home")
    try:
        acting = services.delegation_use(delegate=request.user, delegation_id=chosen)
    except ApplicationError as exc:
        return render(request, "access/holder/refused.html", {"message": exc.message}, status=403)
    request.session[ACTING_KEY] = str(acting.delegation.pk) if acting.delegation else ""
    return redirect("holder-home")


def _page(request: HolderHttpRequest, status: int = 200, **extra: Any) -> HttpResponse:
    user = request.user
    context = {
        "acting": request.acting,
        "held": list(selectors.delegations_held(delegate=user)),
        "legal_person": services.is_legal_person(user),
        "granted": list(selectors.delegations_granted(principal=user)[:200]),
        "days_max": services.DAYS_MAX,
        "message": request.session.pop("holder_delegation", None),
        **extra,
    }
    return render(request, "access/holder/delegations.html", context, status=status)


@holder_required
@require_http_methods(["GET", "POST"])
def holder_delegations(request: HolderHttpRequest) -> HttpResponse:
    """GET: the delegations the account granted (a legal person) and holds. POST: grant (or
    renew) one; refused in Chinese with nothing changed for a non-legal person, an account that
    is not a natural person's holder account, or days outside 1–366."""
    if request.method == "GET":
        return _page(request)
    delegate = request.POST.get("delegate", "")
    try:
        days = int(request.POST.get("days", "0"))
    except ValueError:
        days = 0
    try:
        row = services.delegation_grant(
            principal=request.user, delegate_username=delegate, days=days
        )
    except ApplicationError as exc:
        status = exc.status_code if 400 <= exc.status_code < 500 else 400
        return _page(request, status=status, error=exc.message, delegate=delegate[:150])
    request.session["holder_delegation"] = f"已授权 {row.delegate.username}，有效期至 " + (
        timezone.localtime(row.expires_at).strftime("%Y-%m-%d %H:%M")
    )
    return redirect("holder-delegations")


@holder_required
@require_POST
def holder_delegation_revoke(request: HolderHttpRequest, delegation_id: str) -> HttpResponse:
    try:
        row = services.delegation_revoke(principal=request.user, delegation_id=delegation_id[:64])
    except ApplicationError as exc:
        return _page(request, status=exc.status_code, error=exc.message)
    request.session["holder_delegation"] = f"已撤销对 {row.delegate.username} 的授权"
    return redirect("holder-delegations")
