"""Checks of a licence that apps above licences own, run by the licence services.

Issuing compares the holder with the population/legal-entity registry (art. 25), which the
access app reaches; and a new version must print exactly (its font, its page), which the files
app knows. Licences do not import those apps: each registers its check in its AppConfig.ready
(`shared.access.registry`, `shared.files.printable`). Where an app is not installed its check
does not run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.licenses.models import License

HolderCheck = Callable[..., None]
PrintCheck = Callable[["License"], None]
_holder_check: HolderCheck | None = None
_print_check: PrintCheck | None = None


def holder_check_register(check: HolderCheck) -> None:
    global _holder_check
    _holder_check = check


def print_check_register(check: PrintCheck) -> None:
    global _print_check
    _print_check = check


def holder_check(*, holder_name: str, holder_code: str, holder_code_type: str) -> None:
    """Raise unless the registry agrees with the holder. It may ask over the network: call it
    outside any transaction."""
    if _holder_check is not None:
        _holder_check(
            holder_name=holder_name, holder_code=holder_code, holder_code_type=holder_code_type
        )


def print_check(lic: License) -> None:
    """Raise if `lic` (unsaved rows) could not be shown exactly in its signed file."""
    if _print_check is not None:
        _print_check(lic)
