"""Licence files travel by digest (DESIGN §6): the node's side, announcing and serving them.

A licence file that becomes ready writes a `file.ready` outbox event in the same
transaction (identifier, version, variant, SM3, size, content type — never the bytes), only on
the stream that goes up to the hub (the hub's own files stay at the hub; cities do not fetch
them). The hub fetches the bytes with `GET {node}/api/v1/federation/files/<sm3>` and a signed
request token (`provincial_hub.aggregation.files`).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from shared.core.errors import NotFoundError
from shared.federation import snapshots
from shared.federation.models import OutboxEvent
from shared.federation.outbox import license_key, outbox_write, streams_for
from shared.files import storage
from shared.files.models import LicenseFile

logger = logging.getLogger(__name__)

KIND = "file.ready"
FILES_PATH = "/api/v1/federation/files/"
SM3_RE = re.compile(r"^[0-9a-f]{64}$")
EXTENSIONS = {"application/pdf": "pdf"}
BACKOFF_MAX_SECONDS = 300


# --- node: tell the hub, and answer its fetch ------------------------------------------------


def on_license_file_ready(sender: Any, *, file: LicenseFile, **_: Any) -> None:
    """`license_file_ready` receiver, inside the transaction that marks the file ready."""
    lic = file.license
    for stream in streams_for(lic):
        if stream != settings.FEDERATION_HUB_CODE:
            continue
        outbox_write(stream=stream, kind=KIND, key=license_key(lic), payload=file_payload(file))


def file_payload(file: LicenseFile) -> dict[str, Any]:
    return {
        "schema": snapshots.SCHEMA,
        "identifier": file.identifier,
        "version": file.version,
        "variant": file.variant,
        "sm3": file.sm3,
        "size": file.size,
        "content_type": "application/pdf",
        "committed_at": timezone.now().isoformat(),
    }


def files_announce(*, only_new: bool = True, chunk: int = 500) -> int:
    """Write a `file.ready` event for every ready licence file this node holds (files rendered
    before files travelled, or whose announcement an operator wants sent again); the hub
    records each once however often it hears of it. `only_new`: skip files whose digest an
    event already announced. Returns the number of events written."""
    announced: set[str] = set()
    if only_new:
        announced = set(
            OutboxEvent.objects.filter(kind=KIND).values_list("payload__sm3", flat=True)
        )
    files = (
        LicenseFile.objects.filter(state=LicenseFile.State.READY)
        .exclude(sm3="")
        .select_related("license__issuer", "license__license_type")
        .order_by("pk")
    )
    written, batch = 0, []
    for file in files.iterator(chunk_size=chunk):
        if file.sm3 in announced:
            continue
        batch.append(file)
        if len(batch) >= chunk:
            written += _announce(batch)
            batch = []
    return written + _announce(batch)


@transaction.atomic
def _announce(files: list[LicenseFile]) -> int:
    for file in files:
        on_license_file_ready(None, file=file)
    return len(files)


def node_file_get(*, sm3: str) -> tuple[bytes, str]:
    """The bytes of one of this library's ready licence files, by digest (for the hub)."""
    sm3 = sm3.lower()
    row = (
        LicenseFile.objects.filter(
            sm3=sm3,
            state=LicenseFile.State.READY,
            license__library_code=settings.LIBRARY_CODE,
        )
        .order_by("-rendered_at")
        .first()
        if SM3_RE.match(sm3)
        else None
    )
    if row is None:
        raise NotFoundError("file.not_found", "本库没有该摘要的签章文件", {"sm3": sm3})
    return storage.read(row.path), "application/pdf"
