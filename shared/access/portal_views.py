"""The holder portal (持证人门户): server-rendered, in Chinese, password + one-time code."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth import logout as auth_logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from shared.access import portal
from shared.access.signin import LOGIN_FAILED, safe_next, sign_in
from shared.accounts.requests import AuthenticatedHttpRequest
from shared.core.errors import ApplicationError
from shared.core.holder_codes import holder_code_mask


def holder_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed in as a holder *and* verified with a one-time code in this session."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if user.is_authenticated and user.is_holder and not user.is_verified():  # type: ignore[attr-defined]  # is_verified: set by django_otp's OTPMiddleware
            # Signed in, second factor still to give or to enrol (shared.identity).
            return redirect(f"{reverse('holder-otp')}?next={request.path}")
        if not (user.is_authenticated and user.is_holder and user.is_verified()):  # type: ignore[attr-defined]
            return redirect(f"{reverse('holder-login')}?next={request.path}")
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
def holder_home(request: AuthenticatedHttpRequest) -> HttpResponse:
    licences = list(portal.holder_licenses(holder=request.user))
    accesses = list(portal.holder_accesses(holder=request.user)[:20])
    context = {
        "licences": licences,
        "accesses": accesses,
        "masked_code": holder_code_mask(request.user.holder_code),
        "share": request.session.pop("holder_share", None),
    }
    return render(request, "access/holder/home.html", context)


@holder_required
def holder_accesses(request: AuthenticatedHttpRequest) -> HttpResponse:
    accesses = list(portal.holder_accesses(holder=request.user)[:500])
    return render(request, "access/holder/accesses.html", {"accesses": accesses})


@holder_required
@require_POST
def holder_share(request: AuthenticatedHttpRequest, identifier: str) -> HttpResponse:
    try:
        days = int(request.POST.get("days", "7"))
    except ValueError:
        days = 7
    try:
        share = portal.holder_share_create(
            holder=request.user,
            identifier=identifier,
            use_cause=request.POST.get("use_cause", ""),
            recipient=request.POST.get("recipient", ""),
            days=days,
        )
    except ApplicationError as exc:
        request.session["holder_share"] = {"error": exc.message}
        return redirect("holder-home")
    request.session["holder_share"] = {
        "url": request.build_absolute_uri(reverse("holder-share-open", args=[share.token])),
        "expires_at": share.expires_at.isoformat(),
        "use_cause": share.use_cause,
    }
    return redirect("holder-home")


@require_http_methods(["GET"])
def holder_share_open(request: HttpRequest, token: str) -> HttpResponse:
    try:
        share = portal.holder_share_open(
            token=token[:64], client=str(request.META.get("REMOTE_ADDR", ""))[:64]
        )
    except ApplicationError as exc:  # 404, or 429 once an address guesses too many links
        status = 429 if exc.status_code == 429 else 404
        return render(request, "access/holder/share_missing.html", status=status)
    return render(request, "access/holder/share.html", {"share": share, "lic": share.license})
