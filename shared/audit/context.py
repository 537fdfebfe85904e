"""What an audit row says about the circumstances of a change without every service passing
it along: the request it was made in (`request_id`) and the way in (`via`: "admin",
"command"). Context variables, so each request, thread and task has its own."""

import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token

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


def plain_request_id(value: object) -> str:
    """`value` when it is a plain request id, else "": ids from elsewhere (a header, a task's
    headers, another library's envelope) end up in audit rows, their CSV and log lines."""
    return value if isinstance(value, str) and _PLAIN_ID.fullmatch(value) else ""


@contextmanager
def request_id_bound(request_id: str) -> Iterator[None]:
    """Work done inside belongs to `request_id` (a task queued by a request, say): its audit
    rows, outbox rows and log lines carry it."""
    token = _request_id.set(request_id)
    try:
        yield
    finally:
        _request_id.reset(token)


def request_id_set(request_id: str) -> Token[str]:
    """`request_id_bound` for code that starts and ends in two calls (Celery's task signals)."""
    return _request_id.set(request_id)


def request_id_reset(token: Token[str]) -> None:
    _request_id.reset(token)


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
        request_id = plain_request_id(request.headers.get(HEADER, "")) or uuid.uuid4().hex
        with request_id_bound(request_id):
            response = self.get_response(request)
        response[HEADER] = request_id
        return response
