"""A licence's `file` field: what the licence shows about its signed file.

The files app owns files, and files depend on licences, not the other way round: the licence
knows only that the field exists. `shared.files` registers the value (`file_status`) and the
field's OpenAPI schema (its `FileStatusSerializer`) in its AppConfig.ready."""

from collections.abc import Callable
from typing import Any

from rest_framework import serializers

FileStatus = Callable[..., dict[str, Any] | None]
_status: FileStatus | None = None


def license_file_status_register(status: FileStatus) -> None:
    global _status
    _status = status


class LicenseFileField(serializers.Field):
    """Read-only; the whole licence is its source. None where no files app is installed."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.update(read_only=True, source="*")
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> dict[str, Any] | None:
        return _status(lic=value) if _status is not None else None
