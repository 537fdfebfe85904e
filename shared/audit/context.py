"""What an audit row says about the circumstances of a change without every service passing
it along: the request it was made in (`request_id`) and the way in (`via`: "admin",
"command"). Context variables, so each request, thread and task has its own."""

import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse

_request_id: ContextVar[str] = ContextVar("audit_request_id", default="")
_via: ContextVar[str] = ContextVar("audit_via", default="")

# A caller's own X-Request-ID is kept only when it is plain (it lands in the audit and its CSV).
_PLAIN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
HEADER = "X-Request-ID"


def current_request_id() -> str:
    return _request_id.get()


def current_via() -> str:
    return _via.get()


@contextmanager
def audit_via(via: str) -> Iterator[None]:
    """Mark the changes made inside as made through `via` ("command", "admin")."""
    token = _via.set(via)
    try:
        yield
    finally:
        _via.reset(token)


class RequestIdMiddleware:
    """Give every request an id (the caller's X-Request-ID when plain, else a new UUID), answer
    it in the same header, and let the audit rows written meanwhile carry it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.headers.get(HEADER, "")
        request_id = given if _PLAIN_ID.fullmatch(given) else uuid.uuid4().hex
        token = _request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            _request_id.reset(token)
        response[HEADER] = request_id
        return response
