"""Files this library holds by reference: at the hub, a city's licence file is made at the node
and fetched by digest, never rendered here. The hub registers its `RemoteFiles` in its
AppConfig.ready; without one every licence's file is this library's own."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from shared.licenses.models import License


class StoredFile(Protocol):
    path: str


class RemoteFiles(Protocol):
    def holds(self, lic: License) -> bool:
        """Whether `lic`'s files are held by reference rather than made here."""

    def for_download(self, lic: License, *, identifier: str, variant: str) -> StoredFile:
        """The fetched file (409 while it is not fetched)."""

    def status(self, lic: License, *, variant: str) -> dict[str, Any] | None:
        """What the licence shows about its file, in `file_status`'s shape."""


_remote: RemoteFiles | None = None


def remote_files_register(remote: RemoteFiles) -> None:
    global _remote
    _remote = remote


def remote_files_for(lic: License) -> RemoteFiles | None:
    """The registered `RemoteFiles` when it holds `lic`'s files, else None."""
    return _remote if _remote is not None and _remote.holds(lic) else None
