"""Licence files travel by digest (DESIGN §6): the hub's side, fetching what a city announced.

A city node announces a ready file with a `file.ready` event (`municipal_node.uplink.files`).
At the hub, applying the event records a `RemoteFile` row
(idempotent) and, after commit, queues a fetch: `GET {node}/api/v1/federation/files/<sm3>` with a
signed request token. The bytes are stored only when their SM3 and size match the event; any
failure is recorded on the row and retried with back-off by the beat sweep. A digest the hub
already holds is never fetched again.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from provincial_hub.aggregation.models import RemoteFile
from shared.core.effects import enqueue_on_commit
from shared.core.errors import ApplicationError, ConflictError, PermanentError
from shared.domain.canonical import sm3_hex
from shared.federation.auth import request_token
from shared.federation.keys import peer_get
from shared.federation.tls import exchange_tls
from shared.files import storage
from shared.files.models import LicenseFile
from shared.licenses.models import License, LicenseVersion

logger = logging.getLogger(__name__)

KIND = "file.ready"
FILES_PATH = "/api/v1/federation/files/"
SM3_RE = re.compile(r"^[0-9a-f]{64}$")
EXTENSIONS = {"application/pdf": "pdf"}
BACKOFF_MAX_SECONDS = 300


# --- hub: record the reference, fetch, verify, store -----------------------------------------


def _check_payload(payload: dict[str, Any]) -> None:
    sm3 = payload["sm3"]
    if not isinstance(sm3, str) or not SM3_RE.match(sm3):
        raise PermanentError("federation.file_digest_invalid", "文件摘要（SM3）格式不正确")
    size = payload["size"]
    if not isinstance(size, int) or not 0 < size <= settings.FEDERATION_FILE_MAX_BYTES:
        raise PermanentError(
            "federation.file_size_invalid",
            "文件大小不正确或超过上限",
            {"size": size, "max": settings.FEDERATION_FILE_MAX_BYTES},
        )
    if payload["variant"] not in LicenseFile.Variant.values:
        raise PermanentError("federation.file_variant_invalid", "文件类别不正确")
    if payload.get("content_type", "application/pdf") not in EXTENSIONS:
        raise PermanentError("federation.file_type_invalid", "不支持的文件类型")


def apply_file_ready(payload: dict[str, Any], *, sender: str) -> RemoteFile:
    """Record the file a node holds (idempotent: a duplicate delivery changes nothing) and
    queue its fetch after commit. A new digest for the same version and variant (the node
    rendered it again) replaces the reference and fetches again."""
    _check_payload(payload)
    owner = (
        LicenseVersion.objects.filter(identifier=payload["identifier"])
        .values_list("license__library_code", flat=True)
        .first()
    )
    if owner is not None and owner != sender:
        raise PermanentError(
            "federation.file_foreign",
            "该证照不属于发送方所在的库",
            {"identifier": payload["identifier"], "library_code": owner},
        )
    fields = {
        "node": sender,
        "version": payload["version"],
        "sm3": payload["sm3"],
        "size": payload["size"],
        "content_type": payload.get("content_type", "application/pdf"),
    }
    row, created = RemoteFile.objects.select_for_update().get_or_create(
        identifier=payload["identifier"],
        variant=payload["variant"],
        defaults={**fields, "next_attempt_at": _lost_kick_guard()},
    )
    if not created:
        if row.sm3 == payload["sm3"] and row.size == payload["size"]:
            return row  # the same file again
        for name, value in fields.items():
            setattr(row, name, value)
        row.state, row.attempts, row.last_error, row.path = RemoteFile.State.PENDING, 0, "", ""
        row.next_attempt_at, row.fetched_at = _lost_kick_guard(), None
        row.save()
    _enqueue_fetch(row.pk)
    return row


def record_files(files: list[dict[str, Any]], *, sender: str) -> int:
    """The file references a whole-licence repair carries: each recorded as `file.ready` would
    be. One the hub cannot take is logged and skipped; it never undoes the licence's repair."""
    recorded = 0
    for payload in files or []:
        try:
            with transaction.atomic():
                apply_file_ready(payload, sender=sender)
            recorded += 1
        except (ApplicationError, KeyError, TypeError, ValueError) as exc:
            logger.warning("federation: file reference in a repair skipped: %r", exc)
    return recorded


def _lost_kick_guard() -> Any:
    """A pending row the sweep picks up if its fetch task was lost (broker down)."""
    return timezone.now() + timedelta(seconds=settings.FEDERATION_FILE_SWEEP_SECONDS)


def _enqueue_fetch(file_id: int) -> None:
    """After commit; if the broker is down, the beat sweep fetches pending rows."""
    from provincial_hub.aggregation.tasks import fetch_remote_file

    enqueue_on_commit(fetch_remote_file, file_id)


def _held_path(row: RemoteFile) -> str | None:
    """Where this library already keeps a file with the row's digest, if anywhere."""
    other = (
        RemoteFile.objects.filter(sm3=row.sm3, size=row.size, state=RemoteFile.State.READY)
        .exclude(pk=row.pk)
        .values_list("path", flat=True)
        .first()
    )
    if other:
        return other
    return (
        LicenseFile.objects.filter(sm3=row.sm3, size=row.size, state=LicenseFile.State.READY)
        .values_list("path", flat=True)
        .first()
    )


class FetchError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")


def _download(row: RemoteFile) -> bytes:
    peer = peer_get(row.node)
    url = peer.base_url.rstrip("/") + FILES_PATH + row.sm3
    try:
        with requests.get(
            url,
            headers={"X-Exchange-Token": request_token(audience=peer.code, method="GET", url=url)},
            timeout=settings.FEDERATION_HTTP_TIMEOUT,
            stream=True,
            **exchange_tls(),
        ) as response:
            if response.status_code != 200:
                try:
                    code = str(response.json().get("code", ""))
                except ValueError:
                    code = ""
                raise FetchError(
                    code or f"http.{response.status_code}",
                    f"节点答复 HTTP {response.status_code}",
                )
            data = bytearray()
            for chunk in response.iter_content(64 * 1024):
                data.extend(chunk)
                if len(data) > row.size:
                    raise FetchError(
                        "federation.file_size_mismatch",
                        f"文件大小超过事件所述的 {row.size} 字节",
                    )
    except requests.RequestException as exc:
        raise FetchError("federation.peer_unreachable", f"无法连接节点：{exc}") from exc
    return bytes(data)


def remote_file_fetch(*, file_id: int) -> RemoteFile:
    """Fetch, check and store one row's bytes. Safe to run twice: a ready row is left alone.
    A failure (node unreachable, 404, size or SM3 mismatch) is recorded on the row with the
    next try; nothing that fails the check is stored."""
    row = RemoteFile.objects.get(pk=file_id)
    if row.state == RemoteFile.State.READY:
        return row
    held = _held_path(row)
    if held:
        return _mark_ready(row, held)
    RemoteFile.objects.filter(pk=row.pk).update(attempts=F("attempts") + 1)
    row.refresh_from_db(fields=["attempts"])
    try:
        data = _download(row)
        if len(data) != row.size:
            raise FetchError(
                "federation.file_size_mismatch",
                f"文件大小不符：应为 {row.size} 字节，收到 {len(data)} 字节",
            )
        if sm3_hex(data) != row.sm3:
            raise FetchError("federation.file_digest_mismatch", "文件摘要（SM3）与事件不符，未保存")
        relative = f"remote/{storage.safe_name(row.node)}/{row.sm3}.{EXTENSIONS[row.content_type]}"
        storage.write_atomic(relative, data)
    except Exception as exc:  # noqa: BLE001 - every failure is recorded and retried
        delay = min(2 ** max(row.attempts - 1, 0) * 5, BACKOFF_MAX_SECONDS)
        RemoteFile.objects.filter(pk=row.pk).exclude(state=RemoteFile.State.READY).update(
            state=RemoteFile.State.FAILED,
            last_error=str(exc)[:500],
            next_attempt_at=timezone.now() + timedelta(seconds=delay),
            updated_at=timezone.now(),
        )
        row.refresh_from_db()
        return row
    return _mark_ready(row, relative)


def _mark_ready(row: RemoteFile, path: str) -> RemoteFile:
    now = timezone.now()
    RemoteFile.objects.filter(pk=row.pk, sm3=row.sm3).update(
        state=RemoteFile.State.READY,
        path=path,
        last_error="",
        next_attempt_at=None,
        fetched_at=now,
        updated_at=now,
    )
    row.refresh_from_db()
    return row


def remote_file_sweep(*, limit: int = 500) -> list[int]:
    """Rows due for a try: pending rows whose task was lost, failed rows whose back-off has
    passed (until `FEDERATION_FILE_MAX_ATTEMPTS`; then an operator retries)."""
    now = timezone.now()
    return list(
        RemoteFile.objects.filter(
            Q(state=RemoteFile.State.PENDING)
            | Q(state=RemoteFile.State.FAILED, attempts__lt=settings.FEDERATION_FILE_MAX_ATTEMPTS),
            next_attempt_at__lte=now,
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )


def remote_file_retry(*, node: str | None = None, ids: list[int] | None = None) -> int:
    """An operator's retry of failed fetches: fresh attempts, queued after commit."""
    rows = RemoteFile.objects.filter(state=RemoteFile.State.FAILED)
    if node:
        rows = rows.filter(node=node)
    if ids:
        rows = rows.filter(pk__in=ids)
    with transaction.atomic():
        pks = list(rows.select_for_update().values_list("pk", flat=True))
        RemoteFile.objects.filter(pk__in=pks).update(
            state=RemoteFile.State.PENDING,
            attempts=0,
            next_attempt_at=_lost_kick_guard(),
            updated_at=timezone.now(),
        )
        for pk in pks:
            _enqueue_fetch(pk)
    return len(pks)


AUDIT_PER_RUN = 5_000  # files checked on disk per reconciliation of a city (every 15 min)


def remote_file_audit(*, node: str, limit: int | None = None) -> list[str]:
    """Reconciliation (issue #13): the fetched files of `node` checked longest ago (never first)
    are checked on disk — present, of its size, of its SM3 — `AUDIT_PER_RUN` of them a run, so
    a city's million files are all checked every few days at a bounded cost per run. One that
    is missing or corrupt is fetched again from the node (the owner): its row goes back to
    `pending` with fresh attempts, and so do the rows that share its stored path. Returns the
    identifiers queued (`identifier/variant`)."""
    root = storage.files_root()
    broken: dict[str, str] = {}  # path -> reason
    checked: dict[str, bool] = {}  # path -> sound (rows may share a stored file)
    rows = (
        RemoteFile.objects.filter(node=node, state=RemoteFile.State.READY)
        .order_by(F("audited_at").asc(nulls_first=True), "pk")
        .values_list("pk", "path", "size", "sm3")[: limit or AUDIT_PER_RUN]
    )
    audited = []
    for pk, path, size, sm3 in rows:
        audited.append(pk)
        if path in checked:
            continue
        target = root / path
        if not target.is_file():
            broken[path] = "federation.file_missing: 对账发现省级库中的文件缺失，重新获取"
        elif target.stat().st_size != size or sm3_hex(target.read_bytes()) != sm3:
            broken[path] = "federation.file_corrupt: 对账发现省级库中的文件已损坏，重新获取"
        checked[path] = path not in broken
    with transaction.atomic():
        # rows a fetch is updating meanwhile are skipped (checked again on their next turn):
        # waiting for them, in another order than theirs, deadlocked against the fetch worker
        free = (
            RemoteFile.objects.select_for_update(skip_locked=True)
            .filter(pk__in=audited)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        RemoteFile.objects.filter(pk__in=list(free)).update(audited_at=timezone.now())
    if not broken:
        return []
    queued: list[str] = []
    with transaction.atomic():
        for path, reason in broken.items():
            stale = RemoteFile.objects.select_for_update().filter(
                path=path, state=RemoteFile.State.READY
            )
            for row in stale:
                RemoteFile.objects.filter(pk=row.pk).update(
                    state=RemoteFile.State.PENDING,
                    path="",
                    attempts=0,
                    last_error=reason,
                    fetched_at=None,
                    next_attempt_at=_lost_kick_guard(),
                    updated_at=timezone.now(),
                )
                _enqueue_fetch(row.pk)
                if row.node == node:
                    queued.append(f"{row.identifier}/{row.variant}")
    logger.warning("federation.file_refetch node=%s files=%s reasons=%s", node, queued, broken)
    return queued


class RemoteFiles:
    """`shared.files.remote.RemoteFiles` at the hub: a licence a city issued serves the file
    fetched from the node by digest, never one rendered at the hub."""

    def holds(self, lic: License) -> bool:
        return lic.library_code != settings.LIBRARY_CODE

    def _row(self, lic: License, *, identifier: str, variant: str) -> RemoteFile | None:
        return RemoteFile.objects.filter(
            identifier=identifier, variant=variant, node=lic.library_code
        ).first()

    def for_download(self, lic: License, *, identifier: str, variant: str) -> RemoteFile:
        row = self._row(lic, identifier=identifier, variant=variant)
        if row is None or row.state != RemoteFile.State.READY:
            failed = row is not None and row.state == RemoteFile.State.FAILED
            raise ConflictError(
                "file.not_fetched",
                "该城市证照的签章文件获取失败，正在重试，请稍后再试或联系管理员"
                if failed
                else "该城市证照的签章文件尚未从城市节点获取到省级库，请稍后再试",
                {
                    "state": row.state if row else "awaiting",
                    "attempts": row.attempts if row else 0,
                    "node": lic.library_code,
                },
            )
        return row

    def status(self, lic: License, *, variant: str) -> dict[str, Any] | None:
        row = self._row(lic, identifier=lic.identifier, variant=variant)
        if row is None:
            return None
        ready = row.state == RemoteFile.State.READY
        return {
            "state": row.state,
            "variant": row.variant,
            "attempts": row.attempts,
            "last_error": "" if ready else row.last_error,
            "url": f"/api/v1/licenses/{row.identifier}/file.pdf" if ready else None,
            "sm3": row.sm3,
            "qr_expires_at": None,
            "rendered_at": row.fetched_at,
        }
