"""Request hygiene that must happen before any view or session lookup touches the database."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from shared.core.views import not_found

NUL = "\x00"


class NulCharacterMiddleware:
    """PostgreSQL text cannot hold NUL (U+0000): a lookup with one fails in the database and
    would answer 500. A path carrying NUL names nothing here (404, like any unknown address),
    and a cookie carrying NUL is dropped, since it cannot name a session."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if NUL in request.path_info:
            return not_found(request)
        for name in [k for k, v in request.COOKIES.items() if NUL in k or NUL in v]:
            del request.COOKIES[name]
        return self.get_response(request)
