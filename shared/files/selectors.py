"""Reads for licence files: which file a licence serves, its status, the operator's list."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from shared.accounts.models import User
from shared.core.errors import ConflictError, NotFoundError
from shared.domain.status import UNRELEASED, Status
from shared.files.models import AnnotatedCopy, LicenseFile
from shared.files.remote import StoredFile, remote_files_for
from shared.licenses import lookups
from shared.licenses.models import License, LicenseVersion

TERMINAL = {
    Status.revoked.value: LicenseFile.Variant.REVOKED,
    Status.annulled.value: LicenseFile.Variant.ANNULLED,
    Status.cancelled.value: LicenseFile.Variant.CANCELLED,
}


def _preferred_variant(lic: License, identifier: str) -> str:
    """The current version of a revoked/annulled/cancelled licence serves its watermarked file."""
    if identifier == lic.identifier and lic.status in TERMINAL:
        return TERMINAL[lic.status]
    return LicenseFile.Variant.ORIGINAL


def file_row(*, lic: License, identifier: str | None = None) -> LicenseFile | None:
    """The file row a licence version serves: once the licence is revoked, annulled or
    cancelled, only its watermarked file (never the clean original, even while the watermarked
    one is still being made)."""
    identifier = identifier or lic.identifier
    return LicenseFile.objects.filter(
        license=lic, identifier=identifier, variant=_preferred_variant(lic, identifier)
    ).first()


def file_for_download(*, lic: License, identifier: str | None = None) -> LicenseFile | StoredFile:
    """The ready file, or 409 while it is being made / 404 when the version has none. At the
    hub, a city licence's file is the one fetched from the node (409 until it is): see
    `shared.files.remote`."""
    if lic.status in UNRELEASED:
        raise ConflictError("file.not_released", "证照尚未生效，没有签章文件")
    if identifier and identifier != lic.identifier:
        if not LicenseVersion.objects.filter(
            license=lic, **lookups.version_terms(identifier)
        ).exists():
            raise NotFoundError("license.not_found", "证照不存在")
    remote = remote_files_for(lic)
    if remote is not None:
        identifier = identifier or lic.identifier
        return remote.for_download(
            lic, identifier=identifier, variant=_preferred_variant(lic, identifier)
        )
    row = file_row(lic=lic, identifier=identifier)
    if row is None:
        raise NotFoundError("file.not_found", "该证照版本没有签章文件")
    if row.state != LicenseFile.State.READY:
        raise ConflictError(
            "file.not_ready",
            "签章文件正在生成，请稍后再试"
            if row.state == "pending"
            else "签章文件生成失败，请联系管理员重试",
            {"state": row.state, "attempts": row.attempts},
        )
    return row


def file_status(*, lic: License) -> dict[str, Any] | None:
    """What the licence shows about its file: state, and where to download it when ready."""
    remote = remote_files_for(lic)
    if remote is not None:
        return remote.status(lic, variant=_preferred_variant(lic, lic.identifier))
    # The issue call answers with the row it has just written (see license_file_schedule).
    row = getattr(lic, "_file_row", None) or file_row(lic=lic)
    if row is None:
        return None
    return {
        "state": row.state,
        "variant": row.variant,
        "attempts": row.attempts,
        "last_error": row.last_error if row.state != LicenseFile.State.READY else "",
        "url": f"/api/v1/licenses/{row.identifier}/file.pdf"
        if row.state == LicenseFile.State.READY
        else None,
        "sm3": row.sm3 or None,
        "qr_expires_at": row.qr_expires_at,
        "rendered_at": row.rendered_at,
    }


def file_list(*, user: User) -> QuerySet[LicenseFile]:
    base = LicenseFile.objects.select_related("license").order_by("-updated_at")
    if user.is_library_admin:
        return base
    if user.agency is not None and user.agency.is_issuer:
        return base.filter(license__issuer_id=user.agency_id)
    return base.none()


def copy_get(*, user: User, copy_id: str) -> AnnotatedCopy:
    copy = AnnotatedCopy.objects.select_related("agency", "created_by").filter(pk=copy_id).first()
    visible = user.is_library_admin or (
        copy is not None and user.agency_id is not None and copy.agency_id == user.agency_id
    )
    if copy is None or not visible:
        raise NotFoundError("copy.not_found", "加注件不存在")
    return copy
