"""The one exception type raised by the pure domain layer."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A rule of the domain was broken by the input.

    Contract:
    - ``code`` is a stable, machine-readable dotted code (``"identifier.checksum"``); API clients
      and tests match on it, so it never changes once published.
    - ``message`` is Simplified Chinese text for people; it may be reworded at any time.
    - ``detail`` is a JSON-serialisable dict with the facts behind the error (default ``{}``).

    The API layer turns it into ``{"code": ..., "message": ..., "detail": ...}``.
    """

    code: str
    message: str
    detail: dict[str, Any]

    def __init__(self, code: str, message: str, detail: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        # A fresh dict per instance: a shared mutable default would leak details between errors.
        self.detail = dict(detail) if detail is not None else {}

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"DomainError(code={self.code!r}, message={self.message!r}, detail={self.detail!r})"
