"""The `LOGGING` setting: every record, Django's, Celery's and the project's own, to one handler
whose formatter (shared.ops.logs.formatter) writes JSON lines or text for a terminal."""

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
