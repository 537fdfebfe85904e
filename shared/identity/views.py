"""Holder enrolment screens under /holder/ (server-rendered, Chinese): the provincial unified
login (OIDC), the registry fallback form, and the second factor (verify or enrol a TOTP device;
recovery codes shown once). The rules are in `shared.identity.services`."""

from __future__ import annotations

from typing import Any

import segno
from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods
from django_otp import login as otp_login

from shared.access.otp import one_time_code_match, totp_secret
from shared.access.ratelimit import budget_take, retry_after
from shared.access.services import RateLimitedError
from shared.access.signin import safe_next
from shared.accounts.models import User
from shared.core.errors import ApplicationError
from shared.core.holder_codes import holder_code_digest
from shared.domain.holder_codes import CODE_TYPE_CITIZEN_ID, CODE_TYPE_USCC, CODE_TYPES
from shared.identity import services
from shared.identity.oidc import Pending, identity_provider, oidc_enabled

SESSION_PENDING = "identity_oidc"
SESSION_NEXT = "identity_next"
ENROL_CODE_TYPES = [(t, CODE_TYPES[t]) for t in (CODE_TYPE_CITIZEN_ID, CODE_TYPE_USCC)]
BACKEND = "django.contrib.auth.backends.ModelBackend"


def _refusal(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    status = exc.status_code if 400 <= exc.status_code < 600 else 400
    context = {"message": exc.message, "code": exc.code, "retry": status == 503}
    return render(request, "identity/refused.html", context, status=status)


@never_cache
@require_GET
def oidc_login(request: HttpRequest) -> HttpResponse:
    if not oidc_enabled():
        return render(
            request, "identity/refused.html", {"message": "统一身份认证登录未开通"}, status=404
        )
    try:
        url, pending = identity_provider().begin(
            redirect_uri=request.build_absolute_uri(reverse("holder-oidc-callback"))
        )
    except ApplicationError as exc:
        return _refusal(request, exc)
    request.session[SESSION_PENDING] = pending.as_dict()
    request.session[SESSION_NEXT] = safe_next(request, prefix="/holder/", default="")
    return redirect(url)


@never_cache
@require_GET
def oidc_callback(request: HttpRequest) -> HttpResponse:
    """The provider's answer: verified, then the account found or made, signed in (not yet
    verified: the second factor follows at /holder/otp/)."""
    saved = request.session.pop(SESSION_PENDING, None)  # one answer per login: no replay
    if not oidc_enabled():
        return render(
            request, "identity/refused.html", {"message": "统一身份认证登录未开通"}, status=404
        )
    if not isinstance(saved, dict):
        message = "登录已失效或已完成，请重新登录"
        return render(request, "identity/refused.html", {"message": message}, status=400)
    params = {k: str(v)[:2000] for k, v in request.GET.items()}
    try:
        identity = identity_provider().finish(
            redirect_uri=request.build_absolute_uri(reverse("holder-oidc-callback")),
            params=params,
            pending=Pending(**saved),
        )
        user, _made = services.holder_enrol_oidc(identity=identity)
    except ApplicationError as exc:
        return _refusal(request, exc)
    following = request.session.pop(SESSION_NEXT, "")
    auth_login(request, user, backend=BACKEND)
    if following:
        request.session[SESSION_NEXT] = following
    return redirect("holder-otp")


@never_cache
@require_http_methods(["GET", "POST"])
def enrol(request: HttpRequest) -> HttpResponse:
    """The registry fallback: name and code checked against the population / legal-entity
    registry before the account is made."""
    error, code, status = "", "", 200
    form: dict[str, Any] = {"code_type": CODE_TYPE_CITIZEN_ID}
    if request.method == "POST":
        form = {k: request.POST.get(k, "")[:200] for k in ("name", "code", "code_type", "username")}
        if not _enrol_budget(request, code=form["code"]):
            limited = RateLimitedError(
                "rate_limited",
                "注册核验过于频繁，请稍后再试",
                {"retry_after_seconds": retry_after()},
            )
            return _refusal(request, limited)
        try:
            user = services.holder_enrol_registry(
                username=form["username"],
                password=request.POST.get("password", "")[:200],
                name=form["name"],
                code=form["code"],
                code_type=form["code_type"],
            )
        except ApplicationError as exc:
            error, code = exc.message, exc.code
            status = exc.status_code
        else:
            auth_login(request, user, backend=BACKEND)
            return redirect("holder-otp")
    context = {
        "error": error,
        "error_code": code,
        "form": form,
        "code_types": ENROL_CODE_TYPES,
        "oidc": oidc_enabled(),
    }
    return render(request, "identity/enrol.html", context, status=status)


def _enrol_budget(request: HttpRequest, *, code: str) -> bool:
    """The registry check must not become a way to test names against codes: a few tries a
    minute per address and per code (HOLDER_ENROL_PER_MINUTE), then 429."""
    limit = settings.HOLDER_ENROL_PER_MINUTE
    address = str(request.META.get("REMOTE_ADDR", ""))[:64] or "-"
    by_address = budget_take(kind="enrol", key=address, limit=limit)
    by_code = budget_take(
        kind="enrol-code", key=holder_code_digest(code.strip().upper()), limit=limit
    )
    return by_address and by_code


def _qr(uri: str) -> str:
    return str(segno.make(uri, error="m").svg_data_uri(scale=5, border=2))


@never_cache
@require_http_methods(["GET", "POST"])
def otp(request: HttpRequest) -> HttpResponse:
    """The second factor of a signed-in holder: a code (or a recovery code) when a device is
    confirmed; else the TOTP enrolment with its QR code, then the recovery codes, once."""
    user = request.user
    if not (user.is_authenticated and isinstance(user, User) and user.is_holder):
        return redirect("holder-login")
    if user.is_verified():  # type: ignore[attr-defined]  # set by django_otp's OTPMiddleware
        return redirect("holder-home")
    if services.holder_has_device(user=user):
        return _verify(request, user)
    return _enrol_device(request, user)


def _next(request: HttpRequest) -> str:
    following = str(request.session.pop(SESSION_NEXT, "") or "")
    if following.startswith("/holder/") and not following.startswith("//"):
        return following
    return reverse("holder-home")


def _verify(request: HttpRequest, user: User) -> HttpResponse:
    error = ""
    credentials = {"username": user.username}
    if AxesProxyHandler.is_locked(request, credentials):  # the password form's lockout, too
        auth_logout(request)
        return render(request, "access/holder/locked.html", status=429)
    if request.method == "POST":
        device = one_time_code_match(user, request.POST.get("otp_token", "")[:32])
        if device is not None:
            otp_login(request, device)
            return redirect(_next(request))
        # Counted like a failed sign-in (django-axes locks the account after repeated ones).
        user_login_failed.send(sender=__name__, credentials=credentials, request=request)
        if AxesProxyHandler.is_locked(request, credentials):
            auth_logout(request)
            return render(request, "access/holder/locked.html", status=429)
        error = "动态口令或恢复码不正确"
    status = 400 if error else 200
    return render(request, "identity/verify.html", {"error": error}, status=status)


def _enrol_device(request: HttpRequest, user: User) -> HttpResponse:
    error = ""
    try:
        device = services.holder_totp_begin(user=user)
    except ApplicationError as exc:
        return _refusal(request, exc)
    if request.method == "POST":
        try:
            confirmed, codes = services.holder_totp_confirm(
                user=user, token=request.POST.get("otp_token", "")[:16]
            )
        except ApplicationError as exc:
            error = exc.message
        else:
            otp_login(request, confirmed)
            context = {"codes": codes, "next": _next(request)}
            return render(request, "identity/recovery_codes.html", context)
    context = {
        "error": error,
        "qr": _qr(device.config_url),
        "secret": totp_secret(device),
        "uri": device.config_url,
    }
    return render(request, "identity/totp_enrol.html", context, status=400 if error else 200)


@never_cache
@require_http_methods(["GET", "POST"])
def security(request: HttpRequest) -> HttpResponse:
    """账户安全: how many recovery codes are left; new ones against a current TOTP code."""
    user = request.user
    if not (user.is_authenticated and isinstance(user, User) and user.is_holder):
        return redirect("holder-login")
    if not user.is_verified():  # type: ignore[attr-defined]  # set by django_otp's OTPMiddleware
        return redirect(f"{reverse('holder-otp')}?next={request.path}")
    error = ""
    if request.method == "POST":
        try:
            codes = services.holder_recovery_renew(
                user=user, token=request.POST.get("otp_token", "")[:16]
            )
        except ApplicationError as exc:
            error = exc.message
        else:
            shown = {"codes": codes, "next": reverse("holder-security")}
            return render(request, "identity/recovery_codes.html", shown)
    context: dict[str, Any] = {
        "error": error,
        "left": services.recovery_codes_left(user=user),
        "oidc": user.external_identities.exists(),
    }
    return render(request, "identity/security.html", context, status=400 if error else 200)
