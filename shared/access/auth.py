"""Authentication backends for people signing in through a form (holders, the admin site)."""

from typing import Any

from axes.backends import AxesStandaloneBackend


class AxesRequestBackend(AxesStandaloneBackend):
    """django-axes lockout for sign-ins that come with a request (every web form).

    A call without a request (a management command, Django's test client `login`) is not a
    sign-in over the network, so there is nothing to lock out: it passes on to `ModelBackend`
    instead of raising `AxesBackendRequestParameterRequired`.
    """

    def authenticate(
        self, request: Any, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> Any:
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
