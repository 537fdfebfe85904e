"""Attachments people send with a request (review materials, inspection materials).

The type is read from the content, never from the file name or the declared content type: a
PDF starts with `%PDF-`, a JPEG with FF D8 FF, a PNG with its 8-byte signature. Anything else,
anything empty and anything over the size limit is refused with a clear 400 before it is stored.
"""

from dataclasses import dataclass

from django.conf import settings

from shared.core.errors import PermanentError

# (content type, file extension) by leading bytes.
_SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"%PDF-", "application/pdf", "pdf"),
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
)

DEFAULT_MAX_BYTES = 5 * 1024 * 1024
DEFAULT_MAX_COUNT = 5


@dataclass(frozen=True, slots=True)
class Attachment:
    """One accepted attachment: its name as sent (for display), its type and its bytes."""

    name: str
    content_type: str
    extension: str
    content: bytes


def max_bytes() -> int:
    return int(getattr(settings, "ATTACHMENT_MAX_BYTES", DEFAULT_MAX_BYTES))


def sniff(content: bytes) -> tuple[str, str] | None:
    """(content type, extension) read from the leading bytes, or None if not an accepted type."""
    for magic, content_type, extension in _SIGNATURES:
        if content.startswith(magic):
            return content_type, extension
    return None


def check_attachment(name: str, content: bytes, *, field: str = "attachments") -> Attachment:
    """The attachment, or a 400 that says what is wrong with it."""
    label = (name or "附件")[:100]
    limit = max_bytes()
    if not content:
        raise PermanentError(
            "attachment.empty", f"附件“{label}”为空", {"field": field, "name": label}
        )
    if len(content) > limit:
        raise PermanentError(
            "attachment.too_large",
            f"附件“{label}”超过 {limit // (1024 * 1024)} MB 的大小限制",
            {"field": field, "name": label, "max_bytes": limit, "size": len(content)},
        )
    kind = sniff(content)
    if kind is None:
        raise PermanentError(
            "attachment.type",
            f"附件“{label}”不是 PDF、JPEG 或 PNG 文件（按文件内容判断）",
            {"field": field, "name": label, "accepted": ["pdf", "jpeg", "png"]},
        )
    return Attachment(name=label, content_type=kind[0], extension=kind[1], content=content)


def check_attachments(
    files: list[tuple[str, bytes]], *, field: str = "attachments"
) -> list[Attachment]:
    """Every attachment checked; at most `ATTACHMENT_MAX_COUNT` of them."""
    limit = int(getattr(settings, "ATTACHMENT_MAX_COUNT", DEFAULT_MAX_COUNT))
    if len(files) > limit:
        raise PermanentError(
            "attachment.too_many",
            f"附件最多 {limit} 个",
            {"field": field, "max_count": limit, "count": len(files)},
        )
    return [check_attachment(name, content, field=field) for name, content in files]
