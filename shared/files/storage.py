"""Where signed files live: `FILES_ROOT` (default VAR_DIR/files/<library code>).

Paths stored in rows are relative to the root, so a library can move its files. Writes are
atomic (temporary file + rename): a reader never sees half a PDF. Every rendering of a licence
file has a name of its own (`shared.files.signing.sign_row`): two runs of one row never replace
each other's file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from django.conf import settings

from shared.conf.env import var_dir
from shared.core.errors import NotFoundError


def files_root() -> Path:
    configured = settings.FILES_ROOT
    root = Path(configured) if configured else var_dir() / "files" / settings.LIBRARY_CODE
    root.mkdir(parents=True, exist_ok=True)
    return root


def safe_name(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in ".-_" else "_" for ch in text)


def write_atomic(relative: str, data: bytes) -> None:
    target = files_root() / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def remove(relative: str) -> None:
    """Delete a file no row names any more; one already gone is fine."""
    (files_root() / relative).unlink(missing_ok=True)


def read(relative: str) -> bytes:
    path = files_root() / relative
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise NotFoundError("file.missing", "文件不存在，请联系管理员重新生成") from exc
