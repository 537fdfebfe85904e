"""The holder portal (持证人门户): server-rendered, in Chinese, password + one-time code."""

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import logout as auth_logout
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from shared.access import holder_log, portal
from shared.access.models import AccessRecord
from shared.access.signin import LOGIN_FAILED, safe_next, sign_in
from shared.accounts.requests import AuthenticatedHttpRequest
from shared.core.errors import ApplicationError
from shared.core.holder_codes import holder_code_mask
from shared.delegation.selectors import delegations_held
from shared.delegation.services import Acting, delegation_use

PAGE_SIZE = 50


class HolderHttpRequest(AuthenticatedHttpRequest):
    """Never instantiated: a request behind `holder_required`, which sets `acting`."""

    acting: Acting


ACTING_KEY = "holder_acting_for"


def _acting(request: HttpRequest) -> Acting:
    """Whose licences this request acts on: the holder's own, or — after the signed-in staff
    account switched to it — a legal person's under a delegation, checked again on every
    request (an expired or revoked one raises `delegation.inactive`)."""
    user = request.user
    chosen = request.session.get(ACTING_KEY)
    if not chosen:
        return Acting(user=user, holder=user)  # type: ignore[arg-type]  # a holder, checked above
    return delegation_use(delegate=user, delegation_id=str(chosen))  # type: ignore[arg-type]


def holder_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed in as a holder *and* verified with a one-time code in this session; sets
    `request.acting`. A delegation the staff member switched to that has since expired or been
    revoked is refused (403, in Chinese) and the session falls back to their own account."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if user.is_authenticated and user.is_holder and not user.is_verified():  # type: ignore[attr-defined]  # is_verified: set by django_otp's OTPMiddleware
            # Signed in, second factor still to give or to enrol (shared.identity).
            return redirect(f"{reverse('holder-otp')}?next={request.path}")
        if not (user.is_authenticated and user.is_holder and user.is_verified()):  # type: ignore[attr-defined]
            return redirect(f"{reverse('holder-login')}?next={request.path}")
        try:
            request.acting = _acting(request)  # type: ignore[attr-defined]  # HolderHttpRequest
        except ApplicationError as exc:
            request.session.pop(ACTING_KEY, None)
            return render(
                request, "access/holder/refused.html", {"message": exc.message}, status=403
            )
        return view(request, *args, **kwargs)

    return wrapped


@require_http_methods(["GET", "POST"])
def holder_login(request: HttpRequest) -> HttpResponse:
    error = ""
    username = ""
    if request.method == "POST":
        attempt = sign_in(request, accept=lambda user: user.is_holder, unenrolled=True)
        if attempt.locked:
            return render(request, "access/holder/locked.html", status=429)
        if attempt.user is not None and not attempt.verified:  # no device yet: enrol one
            return redirect("holder-otp")
        if attempt.user is not None:
            return redirect(safe_next(request, prefix="/holder/", default=reverse("holder-home")))
        error, username = LOGIN_FAILED, attempt.username
    status = 400 if error else 200
    # The provincial unified login (shared.identity.oidc) is offered once it is configured.
    oidc = bool(settings.OIDC_ISSUER and settings.OIDC_CLIENT_ID and settings.OIDC_CLIENT_SECRET)
    context = {"error": error, "username": username, "oidc": oidc}
    return render(request, "access/holder/login.html", context, status=status)


@require_POST
def holder_logout(request: HttpRequest) -> HttpResponse:
    auth_logout(request)
    return redirect("holder-login")


@holder_required
def holder_home(request: HolderHttpRequest) -> HttpResponse:
    acting = request.acting
    licences = list(portal.holder_licenses(holder=acting.holder))
    accesses = list(portal.holder_accesses(holder=acting.holder)[:20])
    context = {
        "licences": licences,
        "accesses": accesses,
        "masked_code": holder_code_mask(acting.holder.holder_code),
        "share": request.session.pop("holder_share", None),
        **_acting_context(request),
    }
    return render(request, "access/holder/home.html", context)


def _acting_context(request: HolderHttpRequest) -> dict[str, Any]:
    """What every page shows about acting: for whom, and the delegations one can switch to."""
    return {
        "acting": request.acting,
        "held": list(delegations_held(delegate=request.user)),
    }


@holder_required
def holder_accesses(request: HolderHttpRequest) -> HttpResponse:
    acting = request.acting
    records = portal.holder_accesses(holder=acting.holder)
    context: dict[str, Any] = {
        "licences": list(portal.holder_licenses(holder=acting.holder)),
        "operations": AccessRecord.Operation.choices,
        **_acting_context(request),
    }
    try:
        rows, asked = holder_log.holder_access_filter(records=records, params=request.GET)
    except ApplicationError as exc:
        asked = {k: request.GET.get(k, "")[:120] for k in holder_log.FIELDS}
        context.update(error=exc.message, asked=asked, page=None, accesses=[])
        return render(request, "access/holder/accesses.html", context, status=400)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    query = urlencode({k: v for k, v in asked.items() if v})
    context.update(asked=asked, page=page, accesses=list(page.object_list), query=query)
    return render(request, "access/holder/accesses.html", context)


@holder_required
@require_http_methods(["GET"])
def holder_accesses_csv(request: HolderHttpRequest) -> HttpResponse:
    acting = request.acting
    records = portal.holder_accesses(holder=acting.holder)
    try:
        rows, asked = holder_log.holder_access_filter(records=records, params=request.GET)
    except ApplicationError as exc:
        return render(request, "access/holder/refused.html", {"message": exc.message}, status=400)
    data = holder_log.holder_access_export(
        user=request.user,
        holder=acting.holder,
        records=rows,
        asked=asked,
        actor_detail=acting.record_detail(),
    )
    response = HttpResponse(data, content_type="text/csv; charset=utf-8")
    day = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="access-log-{day}.csv"'
    response["Cache-Control"] = "private, no-store"
    return response


@holder_required
@require_POST
def holder_share(request: HolderHttpRequest, identifier: str) -> HttpResponse:
    try:
        days = int(request.POST.get("days", "7"))
    except ValueError:
        days = 7
    acting = request.acting
    try:
        share = portal.holder_share_create(
            holder=acting.holder,
            identifier=identifier,
            use_cause=request.POST.get("use_cause", ""),
            recipient=request.POST.get("recipient", ""),
            days=days,
            actor=request.user,
            actor_detail=acting.record_detail(),
        )
    except ApplicationError as exc:
        request.session["holder_share"] = {"error": exc.message}
        return redirect("holder-home")
    token = portal.holder_share_link_token(share)
    request.session["holder_share"] = {
        "url": request.build_absolute_uri(reverse("holder-share-open", args=[token])),
        "expires_at": timezone.localtime(share.expires_at).strftime("%Y-%m-%d %H:%M"),
        "use_cause": share.use_cause,
    }
    return redirect("holder-home")


@holder_required
def holder_shares(request: HolderHttpRequest) -> HttpResponse:
    shares = list(portal.holder_shares(holder=request.acting.holder)[:200])
    now = timezone.now()
    for share in shares:  # a live link can be shown again at the counter
        token = portal.holder_share_link_token(share)
        share.link = request.build_absolute_uri(reverse("holder-share-open", args=[token]))  # type: ignore[attr-defined]  # for the template only
    context = {
        "shares": shares,
        "now": now,
        "message": request.session.pop("holder_share", None),
        **_acting_context(request),
    }
    return render(request, "access/holder/shares.html", context)


@holder_required
@require_POST
def holder_share_revoke(request: HolderHttpRequest, share_id: str) -> HttpResponse:
    acting = request.acting
    try:
        portal.holder_share_revoke(
            holder=acting.holder,
            share_id=share_id[:64],
            actor=request.user,
            actor_detail=acting.record_detail(),
        )
    except ApplicationError as exc:
        return render(request, "access/holder/missing.html", {"message": exc.message}, status=404)
    request.session["holder_share"] = {"ok": "加注件链接已撤销，柜台将无法再打开"}
    return redirect("holder-shares")


@require_http_methods(["GET"])
def holder_share_open(request: HttpRequest, token: str) -> HttpResponse:
    """What the counter sees: the licence read-only (no form, no file), the purpose and
    expiry across it; each opening is an access record on the licence."""
    try:
        share = portal.holder_share_open(
            token=token[:128], client=str(request.META.get("REMOTE_ADDR", ""))[:64]
        )
    except ApplicationError as exc:  # 404, or 429 once an address guesses too many links
        status = 429 if exc.status_code == 429 else 404
        return render(request, "access/holder/share_missing.html", status=status)
    response = render(request, "access/holder/share.html", {"share": share, "lic": share.license})
    response["Cache-Control"] = "private, no-store"  # a revoked link must not be served from cache
    response["Referrer-Policy"] = "no-referrer"  # the link is the key: never sent onwards
    return response
