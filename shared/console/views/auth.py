"""Sign-in (password + one-time code, as the holder portal: `shared.access.signin`),
sign-out, and the home page of the console."""

from django.contrib.auth import logout as auth_logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from shared.access.signin import LOGIN_FAILED, safe_next, sign_in
from shared.accounts.requests import AuthenticatedHttpRequest
from shared.console.roles import console_view, staff_signed_in


@never_cache
@require_http_methods(["GET", "POST"])
def console_login(request: HttpRequest) -> HttpResponse:
    error, username = "", ""
    if request.method == "POST":
        attempt = sign_in(request, accept=lambda user: not user.is_holder and user.is_active)
        if attempt.locked:
            return render(request, "console/locked.html", status=429)
        if attempt.user is not None:
            return redirect(safe_next(request, prefix="/console/", default=reverse("console-home")))
        error, username = LOGIN_FAILED, attempt.username
    elif staff_signed_in(request.user):
        return redirect("console-home")
    context = {"error": error, "username": username}
    return render(request, "console/login.html", context, status=400 if error else 200)


@require_POST
def console_logout(request: HttpRequest) -> HttpResponse:
    auth_logout(request)
    return redirect("console-login")


@console_view()
def console_home(request: AuthenticatedHttpRequest) -> HttpResponse:
    return render(request, "console/home.html")
