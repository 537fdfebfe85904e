"""Uploaded files as (name, bytes), read no further than the size limit allows."""

from typing import Any

from shared.core import attachments
from shared.core.errors import PermanentError


def uploaded_files(files: list[Any], *, field: str = "attachments") -> list[tuple[str, bytes]]:
    """Each upload's name and content; one over the limit is refused by its declared size
    before it is read into memory (the content check, `shared.core.attachments`, follows)."""
    limit = attachments.max_bytes()
    read = []
    for upload in files:
        name = str(getattr(upload, "name", "") or "附件")[:100]
        if (upload.size or 0) > limit:
            raise PermanentError(
                "attachment.too_large",
                f"附件“{name}”超过 {limit // (1024 * 1024)} MB 的大小限制",
                {"field": field, "name": name, "max_bytes": limit, "size": upload.size},
            )
        read.append((name, upload.read(limit + 1)))
    return read
