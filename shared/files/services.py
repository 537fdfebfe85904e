"""Writes for licence files: scheduling on every licence change, the OFD, copies (加注件) and
legacy digitisation; rendering and sealing a file row is `shared.files.signing`.

Scheduling runs inside the licence change's transaction (a `license_changed` receiver) and only
writes rows; the `signing` queue does the work after commit. A file row is a job an operator can
see (pending / ready / failed, attempts, last error) and retry; rendering the same row twice
writes an equivalent file and leaves the row ready.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from shared.accounts.models import User
from shared.core.effects import enqueue_on_commit
from shared.core.errors import ConflictError, PermanentError
from shared.crypto.ofd import ofd_build
from shared.domain.canonical import sm3_hex
from shared.domain.status import UNRELEASED, Action, Status
from shared.files import documents, keystore, storage
from shared.files.models import AnnotatedCopy, LegacyScan, LicenseFile
from shared.files.ofd_render import license_ofd_page, ofd_font
from shared.files.signing import render_signed, scan_for
from shared.files.statuslists import status_index_ensure
from shared.licenses import issuing, lookups
from shared.licenses.models import License, LicenseEvent, LicenseVersion, Mode
from shared.licenses.validation import Holder

TERMINAL_VARIANTS = {
    Status.revoked.value: LicenseFile.Variant.REVOKED,
    Status.annulled.value: LicenseFile.Variant.ANNULLED,
    Status.cancelled.value: LicenseFile.Variant.CANCELLED,
}
SCAN_TYPES = {"image/png", "image/jpeg", "application/pdf"}


def _enqueue_render(file_id: int) -> None:
    """After commit. If the broker is down the row stays pending and the sweep sends it later."""
    from shared.files.tasks import render_license_file

    enqueue_on_commit(render_license_file, file_id)


def _enqueue_drain() -> None:
    """After commit: a drain takes the new row with whatever else is pending (coalesced: one
    run per window and one at its end, per process). Same fallback as above."""
    from shared.files.tasks import drain_license_files

    enqueue_on_commit(drain_license_files, coalesce=settings.FILES_DRAIN_COALESCE_MS / 1000)


def license_file_schedule(*, license: License, event: LicenseEvent, new_version: bool) -> None:
    """Write the file rows a licence change calls for (inside its transaction).

    Issue, approve, renew and amend need the original of the (new) current version; revoke,
    annul and cancel need a watermarked variant of it. Other changes (suspend, pledge…) do not
    change the printed file: their status is told by verification and the status lists.
    """
    if license.status in UNRELEASED:
        return
    issued_now = event.action == Action.issue  # the licence row was inserted just now
    status_index_ensure(license=license, fresh=issued_now)
    variant = TERMINAL_VARIANTS.get(license.status)
    if variant is None:
        if not (new_version or event.action in (Action.issue, Action.approve)):
            return
        variant = LicenseFile.Variant.ORIGINAL
    if issued_now:  # a new identifier: no row can exist yet
        row = LicenseFile.objects.create(
            identifier=license.identifier,
            variant=variant,
            license=license,
            version=license.version,
        )
        license._file_row = row  # type: ignore[attr-defined]  # the issue answer shows it without reading it back
    else:
        row, created = LicenseFile.objects.get_or_create(
            identifier=license.identifier,
            variant=variant,
            defaults={"license": license, "version": license.version},
        )
        if not created:
            return
    _enqueue_drain()


def license_file_ofd(*, row: LicenseFile) -> LicenseFile:
    """The OFD of a ready file row, made and stored on first request (GB/T 38540, SM2/SM3).

    Made lazily so issuing does not pay for it. It shows what the row's PDF shows (same
    variant, same QR URL and expiry, same watermark date) and is sealed with the issuer's SM2
    seal. The row is locked while the file is made, so two first requests make it once.
    """
    if row.ofd_path:
        return row
    with transaction.atomic():
        row = LicenseFile.objects.select_for_update().get(pk=row.pk)
        if row.ofd_path:
            return row
        return _license_file_ofd_make(row)


def _license_file_ofd_make(row: LicenseFile) -> LicenseFile:
    if row.state != LicenseFile.State.READY:
        raise ConflictError("file.not_ready", "签章文件正在生成，请稍后再试", {"state": row.state})
    lic = License.objects.select_related("license_type", "issuer").get(pk=row.license_id)
    version = LicenseVersion.objects.get(identifier=row.identifier)
    qr = documents.QrToken(
        token="",
        url=row.qr_url,
        issued_at=row.rendered_at or row.created_at,
        expires_at=row.qr_expires_at or timezone.now(),
    )
    doc = documents.license_document(
        lic=lic,
        version=version,
        qr=qr,
        variant=row.variant,
        scan=scan_for(lic) if lic.mode == Mode.LEGACY else None,
        when=row.created_at,
    )
    seal_key = keystore.sm2_seal_for(agency=lic.issuer)
    now = timezone.now()
    page = license_ofd_page(doc, font_path=keystore.font_path())
    data = ofd_build(
        page,
        font=ofd_font(keystore.font_path(), page),  # embedded, as the PDF embeds its font
        signer=keystore.ofd_signer(seal_key),
        when=now,
        doc_id=sm3_hex(f"{row.identifier}:{row.variant}".encode())[:32],
    )
    relative = (
        f"{storage.safe_name(lic.issuer.code)}/{storage.safe_name(row.identifier)}/"
        f"{row.variant}.ofd"
    )
    storage.write_atomic(relative, data)
    LicenseFile.objects.filter(pk=row.pk).update(
        ofd_path=relative,
        ofd_size=len(data),
        ofd_sm3=sm3_hex(data),
        ofd_seal=seal_key,
        ofd_rendered_at=now,
    )
    row.refresh_from_db()
    return row


def license_file_retry(*, file_id: int) -> LicenseFile:
    """An operator's retry of a failed row: back to pending with fresh attempts, re-queued."""
    row = LicenseFile.objects.get(pk=file_id)
    if row.state == LicenseFile.State.READY:
        return row
    LicenseFile.objects.filter(pk=file_id).update(
        state=LicenseFile.State.PENDING, attempts=0, claimed_at=None, updated_at=timezone.now()
    )
    _enqueue_render(file_id)
    row.refresh_from_db()
    return row


def license_file_sweep(*, older_than_seconds: int = 30, limit: int = 500) -> list[int]:
    """Ids of pending rows untouched for a while (lost task, broker down): the beat task
    re-queues them. Rows that failed for good are left to an operator."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    return list(
        LicenseFile.objects.filter(state=LicenseFile.State.PENDING, updated_at__lt=cutoff)
        .order_by("updated_at")
        .values_list("pk", flat=True)[:limit]
    )


def annotated_copy_create(
    *,
    actor: User,
    license: License,
    matter_code: str,
    use_cause: str,
    days: int | None = None,
) -> AnnotatedCopy:
    """A 加注件 of the licence's current version, watermarked and sealed by the library.

    The library seals it (not the issuer): the annotation is the library's statement about who
    asked and why, made on top of the issuer's content. Rendering and sealing (a time-stamp
    authority's answer too) run outside any transaction; the copy's row is one insert, made
    once its file is stored.
    """
    if license.status in UNRELEASED:
        raise ConflictError("copy.not_released", "证照尚未生效，不能生成加注件")
    agency = actor.agency
    days = days or settings.FILES_COPY_DAYS
    expires = timezone.now() + timedelta(days=days)
    version = LicenseVersion.objects.get(**lookups.version_terms(license.identifier))
    who = agency.name if agency else settings.LIBRARY_NAME
    annotation = [
        f"加注件：仅供“{use_cause}”使用",
        f"用证单位：{who}　事项：{matter_code}",
        f"有效期至：{timezone.localtime(expires):%Y-%m-%d %H:%M}　"
        f"生成时间：{timezone.localtime():%Y-%m-%d %H:%M}",
    ]
    variant = TERMINAL_VARIANTS.get(license.status, LicenseFile.Variant.ORIGINAL)
    pdf, seal_key, _qr = render_signed(
        lic=license,
        version=version,
        variant=variant,
        annotation=annotation,
        seal_agency_is_library=True,
    )
    copy = AnnotatedCopy(
        license=license,
        identifier=license.identifier,
        agency=agency,
        created_by=actor,
        matter_code=matter_code,
        use_cause=use_cause,
        expires_at=expires,
        size=len(pdf),
        sm3=sm3_hex(pdf),
        seal=seal_key,
    )
    copy.path = f"copies/{copy.id}.pdf"
    storage.write_atomic(copy.path, pdf)
    copy.save()
    return copy


def legacy_issue(
    *,
    actor: User,
    scan: bytes,
    content_type: str,
    original_name: str,
    values: dict[str, Any],
) -> License:
    """Digitise a paper licence (art. 16): issue it in mode `legacy`, then attach the scan.

    The licence's checks (the registry's answer among them) run first, outside any
    transaction. The scan is stored before the file row's task can run (same transaction as the
    licence), so the rendered file always embeds it as the page image.
    """
    if content_type not in SCAN_TYPES:
        raise PermanentError(
            "legacy.scan_type",
            "扫描件须为 PNG、JPEG 图片或 PDF 文件",
            {"allowed": sorted(SCAN_TYPES)},
        )
    _check_scan(scan, content_type)
    values = {**values, "mode": Mode.LEGACY}
    order = issuing.license_issue_check(
        actor=actor, holder=Holder(**values.pop("holder")), **values
    )
    return _legacy_write(
        order=order, scan=scan, content_type=content_type, original_name=original_name
    )


@transaction.atomic
def _legacy_write(
    *, order: issuing.IssueOrder, scan: bytes, content_type: str, original_name: str
) -> License:
    lic = issuing.license_issue_write(order=order)
    actor = order.actor
    digest = sm3_hex(scan)
    extension = {"image/png": "png", "image/jpeg": "jpg", "application/pdf": "pdf"}[content_type]
    relative = f"scans/{storage.safe_name(lic.issuer.code)}/{digest}.{extension}"
    storage.write_atomic(relative, scan)
    LegacyScan.objects.create(
        license=lic,
        content_type=content_type,
        original_name=original_name[:200],
        path=relative,
        size=len(scan),
        sm3=digest,
        uploaded_by=actor,
    )
    return lic


def _check_scan(data: bytes, content_type: str) -> None:
    if content_type == "application/pdf":
        if not data.startswith(b"%PDF-"):
            raise PermanentError("legacy.scan_invalid", "扫描件不是有效的 PDF 文件")
        return
    import io

    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise PermanentError("legacy.scan_invalid", "扫描件不是有效的图片") from exc
