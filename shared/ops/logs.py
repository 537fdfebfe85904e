"""Structured log lines (structlog): one renderer for structlog's own loggers and for the
standard library's records (Django, Celery, gunicorn's errors), so a collector parses one shape.

Every line has `timestamp` (ISO 8601, UTC), `level`, `logger`, `event`, `request_id` and
`library` (this library's code); an HTTP request adds one `http.request` line with `method`,
`path`, `status` and `duration_ms`; a Celery task's lines add `task` and `task_id` and carry
the id of the request that queued it (shared.ops.receivers). The request id has one home, `shared.audit.context`: audit rows, outbox rows and log lines read the same id, so
they agree by construction (docs/operations.md, 日志).

`LOGGING` (shared.conf.logs) names `formatter` below; `configure` runs once the apps are ready
(`OpsConfig.ready`).
"""

import time
from collections.abc import Callable, MutableMapping
from typing import Any

import structlog
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse

from shared.audit.context import current_request_id
from shared.conf.logs import FORMATS

# The fields every line starts with, in this order: a reader's eye (and `cut`) finds them.
FIRST = ("timestamp", "level", "logger", "event", "request_id", "library")

logger = structlog.stdlib.get_logger(__name__)

EventDict = MutableMapping[str, Any]


def add_context(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    """The request id and the library, unless the line names its own (an envelope's events)."""
    event_dict.setdefault("request_id", current_request_id() or None)
    if "library" not in event_dict:
        try:
            event_dict["library"] = getattr(settings, "LIBRARY_CODE", None)
        except ImproperlyConfigured:  # gunicorn's master, before any settings are loaded
            event_dict["library"] = None
    return event_dict


def _first_fields(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    ordered = {key: event_dict.pop(key) for key in FIRST if key in event_dict}
    return ordered | dict(event_dict)


def _drop_message(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    # `message` is the `event` again, left on a record by a handler that formatted it first.
    event_dict.pop("message", None)
    return event_dict


def _common() -> list[Callable[..., Any]]:
    """What both kinds of record go through before rendering."""
    return [
        structlog.contextvars.merge_contextvars,  # a task's name and id (shared.ops.receivers)
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        add_context,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
    ]


def formatter(fmt: str = "json") -> structlog.stdlib.ProcessorFormatter:
    """The `logging` formatter of every handler: JSON lines, or aligned text for a terminal.

    Standard-library records get the same fields through `foreign_pre_chain` (their `extra=`
    too); the traceback of an exception becomes the `exception` field of a JSON line."""
    if fmt not in FORMATS:
        raise ValueError(f"LOG_FORMAT must be one of {', '.join(FORMATS)}, not {fmt!r}")
    last: list[Callable[..., Any]] = [structlog.stdlib.ProcessorFormatter.remove_processors_meta]
    if fmt == "json":
        last += [
            structlog.processors.format_exc_info,
            _first_fields,
            # Chinese stays readable; anything else json cannot take is written as its repr.
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ]
    else:
        # Python's own traceback: rich's (the default when installed) prints local variables,
        # and a key or a holder's code must not reach a log through them.
        console = structlog.dev.ConsoleRenderer(
            colors=False, sort_keys=False, exception_formatter=structlog.dev.plain_traceback
        )
        last += [_first_fields, console]
    return structlog.stdlib.ProcessorFormatter(
        processors=last,
        foreign_pre_chain=[*_common(), structlog.stdlib.ExtraAdder(), _drop_message],
    )


def configure() -> None:
    """structlog's own loggers hand their events to `logging`, whose handlers render them with
    `formatter`: one configuration (settings.LOGGING) decides levels, handlers and format."""
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,  # a line below LOG_LEVEL costs nothing more
            *_common(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


class RequestLogMiddleware:
    """One `http.request` line per request, under its request id: placed just inside
    `shared.audit.context.RequestIdMiddleware`, which gives the request its id."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        logger.info(
            "http.request",
            method=request.method,
            path=request.path,
            status=response.status_code,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
        )
        return response
