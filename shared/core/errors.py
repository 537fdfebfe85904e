"""One error hierarchy for services; one JSON shape at the API edge (STYLE habit 7).

Services raise these (or `shared.domain.errors.DomainError`); the DRF exception handler in
`shared.core.api` turns them into `{"code", "message", "detail"}` with the right status.
"""

from typing import Any


class ApplicationError(Exception):
    """A refusal the caller can understand: stable `code`, Chinese `message`, `detail`."""

    status_code = 400

    def __init__(
        self, code: str, message: str, detail: dict[str, Any] | None = None, *, status: int = 0
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.detail = detail or {}
        if status:
            self.status_code = status

    def __str__(self) -> str:
        return self.message


class PermanentError(ApplicationError):
    """Bad input or a rule that will not change by retrying."""


class RetryableError(ApplicationError):
    """A passing failure (a peer down, a lock held): the same call may succeed later."""

    status_code = 503


class NotFoundError(PermanentError):
    status_code = 404


class ForbiddenError(PermanentError):
    status_code = 403


class ConflictError(PermanentError):
    status_code = 409
