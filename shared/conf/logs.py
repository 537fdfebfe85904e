"""The `LOGGING` setting: every record, Django's, Celery's and the project's own, to one handler
whose formatter (shared.ops.logs.formatter) writes JSON lines or text for a terminal."""

import logging
import logging.config
import os
from typing import Any

from shared.conf.env import ImproperlyConfiguredError

FORMATS = ("json", "console")


def logging_config(*, fmt: str, level: str) -> dict[str, Any]:
    """`fmt`: LOG_FORMAT (json in production, console otherwise); `level`: LOG_LEVEL."""
    if fmt not in FORMATS:
        raise ImproperlyConfiguredError(
            f"LOG_FORMAT 只能是 {' 或 '.join(FORMATS)} / must be one of {', '.join(FORMATS)}, "
            f"not {fmt!r}"
        )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        # Named by path: the settings module must not import structlog's formatter itself.
        "formatters": {"structured": {"()": "shared.ops.logs.formatter", "fmt": fmt}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
        "root": {"handlers": ["console"], "level": level.upper()},
        "loggers": {"django.db.backends": {"level": "WARNING"}},
    }


def apply(config: dict[str, Any]) -> None:
    """Django's `LOGGING_CONFIG`: the dictionary, and Python's warnings as records of the
    `py.warnings` logger. A library's warning at import (cryptography ≥ 51 deprecates the DSA
    that pyHanko imports) would otherwise go to stderr as two lines of plain text, in the
    middle of the JSON lines a log collector parses."""
    logging.config.dictConfig(config)
    logging.captureWarnings(True)


def gunicorn_logging_config() -> dict[str, Any]:
    """gunicorn's `logconfig_dict` (gunicorn.conf.py): its own lines (start, workers, timeouts,
    errors) through the same formatter. gunicorn gives its error logger a plain handler of its
    own and stops it propagating; this takes both back, in the master and in every worker."""
    production = os.environ.get("DJANGO_ENV") == "production"
    fmt = os.environ.get("LOG_FORMAT") or ("json" if production else "console")
    config = logging_config(fmt=fmt, level=os.environ.get("LOG_LEVEL") or "INFO")
    level = config["root"]["level"]
    config["loggers"] |= {
        "gunicorn.error": {"level": level, "handlers": [], "propagate": True},
        # no access log: Django's `http.request` line says more, with the request id
        "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": True},
    }
    return config
