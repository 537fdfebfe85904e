"""Request types of views that require a signed-in user, for the type checker.

Django and DRF type `request.user` as possibly anonymous; behind `IsAuthenticated` (the API's
default permission) or the holder portal's `holder_required` it is always one of our users.
Views annotate their `request` with these types (and read `self.request` through
`authenticated()`) rather than checking the user's type again at run time.
"""

from typing import cast

from django.http import HttpRequest
from rest_framework.request import Request

from shared.accounts.models import User


class AuthenticatedRequest(Request):
    """Never instantiated: DRF builds a plain `Request`; this only narrows `user`."""

    user: User


class AuthenticatedHttpRequest(HttpRequest):
    """Never instantiated: Django builds the request; this only narrows `user`."""

    user: User


def authenticated(request: Request) -> AuthenticatedRequest:
    """`request` seen as the signed-in request it is behind `IsAuthenticated` (no run-time check)."""
    return cast(AuthenticatedRequest, request)
