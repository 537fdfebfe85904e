"""Sign-in with password and one-time code (art. 29), for every form that signs people in:
the holder portal (`shared.access.portal_views`) and the staff console (`shared.console`).

One answer for every failure (wrong password, unknown user, wrong code, an account of the
other kind): the answer must not tell a guesser that the password was right. django-axes
counts each failure per username and locks the account after AXES_FAILURE_LIMIT of them.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import authenticate
from django.contrib.auth import login as auth_login
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_otp import login as otp_login

from shared.access.otp import one_time_code_devices, one_time_code_match
from shared.accounts.models import User

LOGIN_FAILED = "用户名、密码或动态口令错误，请核对后重试（动态口令为验证器当前显示的 6 位数字）"


@dataclass(frozen=True, slots=True, kw_only=True)
class SignIn:
    """What a sign-in attempt came to: `user` when it succeeded, `locked` when the account is
    locked out, otherwise a failure to answer with LOGIN_FAILED. `verified` is False for an
    account signed in that has no device yet: it must enrol one before anything else."""

    username: str
    user: User | None = None
    locked: bool = False
    verified: bool = True


def sign_in(
    request: HttpRequest, *, accept: Callable[[User], bool], unenrolled: bool = False
) -> SignIn:
    """Check the posted username, password and one-time code (a TOTP code or a single-use
    recovery code); on success sign the user in and mark the session verified (django_otp).
    `accept` says which accounts this form is for; any other account fails exactly as a wrong
    password does. With `unenrolled`, an account with no confirmed device at all (new, or
    reset by the library administrator) signs in with its password alone, *not* verified:
    the caller sends it to enrol a device (shared.identity)."""
    username = request.POST.get("username", "").strip()[:150]
    password = request.POST.get("password", "")
    token = request.POST.get("otp_token", "").strip()[:32]
    user = authenticate(request, username=username, password=password)
    if getattr(request, "axes_locked_out", False):
        return SignIn(username=username, locked=True)
    device = None
    if user is not None and accept(user):
        if unenrolled and not one_time_code_devices(user):
            auth_login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return SignIn(username=username, user=user, verified=False)
        if token:
            device = one_time_code_match(user, token)
    if device is None:
        # A right password with a wrong code, or an account of the other kind, is a failed
        # sign-in like a wrong password (axes counts it).
        if user is not None:
            user_login_failed.send(
                sender=__name__, credentials={"username": username}, request=request
            )
        return SignIn(username=username)
    auth_login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    otp_login(request, device)
    return SignIn(username=username, user=user)


def safe_next(request: HttpRequest, *, prefix: str, default: str) -> str:
    """Where to go after signing in: `?next=` when it is a path under `prefix`, else `default`
    (never another site: `//host` is refused)."""
    target = request.GET.get("next", "")
    if not target.startswith(prefix) or target.startswith("//"):
        return default
    return target


def lockout_response(
    request: HttpRequest, response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: a sign-in form that saw the lockout has answered it in its own
    words (its locked page, 429), which is kept; any other (the admin site's) gets the holder
    portal's locked page."""
    if response is not None and response.status_code == 429:
        return response
    from django.conf import settings

    return render(request, settings.AXES_LOCKOUT_TEMPLATE, status=429)
