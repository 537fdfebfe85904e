"""Who may open which screens. The services check again (a screen never bypasses them); these
only decide what a page shows and refuse a page that would be of no use to its visitor."""

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import quote

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache

from shared.accounts.models import User

Allow = Callable[[User], bool]


def staff_signed_in(user: Any) -> bool:
    """A member of staff (not a holder) signed in with password *and* one-time code."""
    return bool(
        getattr(user, "is_authenticated", False)
        and user.is_active
        and not user.is_holder
        and user.is_verified()  # set by django_otp's OTPMiddleware
    )


def library_admin(user: User) -> bool:
    return user.is_library_admin


def manages_staff(user: User) -> bool:
    return user.is_library_admin or user.is_agency_admin


def issuer(user: User) -> bool:
    agency = user.agency
    return bool(agency is not None and agency.is_issuer and agency.active)


def consumer(user: User) -> bool:
    agency = user.agency
    return bool(agency is not None and agency.is_consumer and agency.active)


def supervisor(user: User) -> bool:
    return user.is_supervisor


def console_view(allow: Allow | None = None) -> Callable[..., Callable[..., HttpResponse]]:
    """A console page: signed-in staff only (else to the sign-in page, coming back here
    after), and of those only whom `allow` admits (else 403 with a page saying so); what it
    cannot find is a 404 page. Never cached: every page shows licences or people."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        @never_cache
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not staff_signed_in(request.user):
                target = quote(request.get_full_path(), safe="/?=&")
                return redirect(f"{reverse('console-login')}?next={target}")
            if allow is not None and not allow(request.user):  # type: ignore[arg-type]  # staff_signed_in: one of our users
                return render(request, "console/forbidden.html", status=403)
            try:
                return view(request, *args, **kwargs)
            except Http404 as missing:  # a page, not the API's JSON answer (handler404)
                context = {"message": str(missing) or "页面不存在"}
                return render(request, "console/not_found.html", context, status=404)

        return wrapped

    return decorate
