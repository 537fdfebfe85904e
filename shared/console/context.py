"""Context for every console page: who is signed in, for which agency, at which library."""

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from shared.console.nav import nav_for
from shared.console.roles import staff_signed_in
from shared.core.tier import is_hub

PREFIX = "/console/"


def console(request: HttpRequest) -> dict[str, Any]:
    """Template context processor; outside the console (API, holder portal) it adds nothing."""
    if not request.path.startswith(PREFIX):
        return {}
    context: dict[str, Any] = {
        "library": {
            "name": settings.LIBRARY_NAME,
            "code": settings.LIBRARY_CODE,
            "tier": "省级枢纽" if is_hub() else "市级节点",
        },
        "session_minutes": settings.SESSION_COOKIE_AGE // 60,
    }
    user = request.user
    if staff_signed_in(user):
        context["me"] = user
        context["console_nav"] = nav_for(user, request.path)  # type: ignore[arg-type]  # staff_signed_in: one of our users
    return context
