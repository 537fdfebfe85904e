"""The `signing` queue's work: render, seal and store one file row, and mark it ready.

A signing process spends most of a file in reportlab and pyHanko; what the row costs around
them is kept to four statements in steady state: the attempt counted and the row read in one
`UPDATE … RETURNING`, the version read with its licence, type, issuer and status-list index in
one join, the ready update, and the `file.ready` outbox row (one statement with its sequence
number) — the token key and the seal come from the process's short-lived copy
(`keystore.current`).
"""

from __future__ import annotations

import enum
import functools
import uuid
from datetime import timedelta
from typing import Any, cast

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone

from shared.core.errors import PermanentError, RetryableError
from shared.crypto.pdfsign import sign_pdf
from shared.domain.canonical import sm3_hex
from shared.files import documents, keystore, storage
from shared.files.models import LegacyScan, LicenseFile, SigningKey
from shared.files.render import render_license_pdf
from shared.files.signals import license_file_ready
from shared.licenses.models import License, LicenseVersion, Mode


def scan_for(lic: License) -> bytes | None:
    scan = LegacyScan.objects.filter(license=lic).first()
    if scan is None:
        return None
    data = storage.read(scan.path)
    if scan.content_type == "application/pdf":
        return _pdf_first_page_image(data)
    return data


def _pdf_first_page_image(data: bytes) -> bytes:
    """A scanned PDF becomes the page image through poppler (pdftoppm), at 150 dpi."""
    import subprocess
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "scan.pdf"
        source.write_bytes(data)
        subprocess.run(  # noqa: S603 - fixed program; input is a file we wrote
            ["pdftoppm", "-r", "150", "-png", "-singlefile", str(source), str(Path(folder) / "p")],  # noqa: S607
            check=True,
            capture_output=True,
            timeout=60,
        )
        return (Path(folder) / "p.png").read_bytes()


def render_signed(
    *,
    lic: License,
    version: LicenseVersion,
    variant: str,
    annotation: list[str] | None = None,
    seal_agency_is_library: bool = False,
    seal_key: SigningKey | None = None,
) -> tuple[bytes, Any, documents.QrToken]:
    """Render and seal one document; returns (pdf bytes, seal key row, QR token).

    `seal_key`: the seal to use (default: the active one of the issuer, or of the library)."""
    qr = documents.qr_token_issue(lic=lic, version=version)
    doc = documents.license_document(
        lic=lic,
        version=version,
        qr=qr,
        variant=variant,
        annotation=annotation,
        scan=scan_for(lic) if lic.mode == Mode.LEGACY else None,
    )
    page = render_license_pdf(doc, font_path=keystore.font_path())
    if seal_key is None:
        seal_key = keystore.seal_for(agency=None if seal_agency_is_library else lic.issuer)
    signer = keystore.seal_signer(seal_key)
    reason = "电子证照加注件" if annotation else "电子证照签发"
    pdf = sign_pdf(page.pdf, seal=signer, box=page.seal_box, reason=reason)
    return pdf, seal_key, qr


def _attempt(file_id: int, *, owned: bool) -> LicenseFile | None:
    """Count this run's attempt, claim the row and read it, in one statement; None when it is
    ready, or claimed by another run within `FILES_CLAIM_SECONDS` (a drain rendering it: the
    sweep queues a task for every row that waited 30 s, and under a backlog many of those are
    in a drain's hands by then). `owned`: the claim is this task's already (a drain handed the
    row back to it, or it retries itself), and is taken again."""
    fields = LicenseFile._meta.concrete_fields
    quote = connection.ops.quote_name
    free = "" if owned else f" AND ({quote('claimed_at')} IS NULL OR {quote('claimed_at')} < %s)"
    sql = (
        f"UPDATE {quote(LicenseFile._meta.db_table)} "  # noqa: S608 - model names only
        f"SET {quote('attempts')} = {quote('attempts')} + 1, {quote('claimed_at')} = %s "
        f"WHERE {quote('id')} = %s AND {quote('state')} <> %s{free} "
        f"RETURNING {', '.join(quote(cast(str, f.column)) for f in fields)}"
    )
    at = timezone.now()
    now = connection.ops.adapt_datetimefield_value(at)
    params = [now, file_id, LicenseFile.State.READY]
    if not owned:
        stale = at - timedelta(seconds=settings.FILES_CLAIM_SECONDS)
        params.append(connection.ops.adapt_datetimefield_value(stale))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        values = cursor.fetchone()
    if values is None:
        return None
    return LicenseFile.from_db(connection.alias, [f.attname for f in fields], values)


def versions_of(rows: list[LicenseFile]) -> dict[str, LicenseVersion]:
    """The versions the rows print, with licence, type, issuer and status-list index: one join."""
    versions = LicenseVersion.objects.select_related(
        "license__license_type", "license__issuer", "license__status_index"
    ).filter(identifier__in={row.identifier for row in rows})
    return {version.identifier: version for version in versions}


def sign_row(row: LicenseFile, version: LicenseVersion) -> dict[str, Any]:
    """Render, seal and store the row's file; the values that make the row ready."""
    lic = row.license = version.license
    pdf, seal_key, qr = render_signed(
        lic=lic,
        version=version,
        variant=row.variant,
        seal_key=keystore.seal_current(agency=lic.issuer),
    )
    # A name of its own for every rendering: two runs of one row (a drain, and the task the
    # sweep queued for the same row meanwhile) must not replace each other's file, or the row
    # could name one file's digest and the disk hold the other's (their signing times differ).
    relative = (
        f"{storage.safe_name(lic.issuer.code)}/{storage.safe_name(row.identifier)}/"
        f"{row.variant}-{uuid.uuid4().hex[:12]}.pdf"
    )
    storage.write_atomic(relative, pdf)
    now = timezone.now()
    return {
        "state": LicenseFile.State.READY,
        "path": relative,
        "size": len(pdf),
        "sm3": sm3_hex(pdf),
        "seal": seal_key,
        "qr_url": qr.url,
        "qr_expires_at": qr.expires_at,
        "timestamped": bool(settings.FILES_TSA_URL),
        "last_error": "",
        "rendered_at": now,
        "updated_at": now,
    }


def record_failure(row: LicenseFile, exc: Exception) -> bool:
    """Write the failure on the row; True when it failed for good (attempts used up, or an
    error no retry can mend) and waits for an operator."""
    failed = row.attempts >= settings.FILES_MAX_ATTEMPTS or isinstance(exc, PermanentError)
    LicenseFile.objects.filter(pk=row.pk).update(
        state=LicenseFile.State.FAILED if failed else LicenseFile.State.PENDING,
        last_error=f"{type(exc).__name__}: {exc}"[:1000],
        updated_at=timezone.now(),
    )
    return failed


def license_file_render(*, file_id: int, owned: bool = False) -> LicenseFile:
    """Render, seal and store one file row. Idempotent: a ready row is left as it is, and so
    is a row another run holds (see `_attempt`; `owned`: the claim is the caller's).

    Failures are recorded on the row (attempts, last_error); after `FILES_MAX_ATTEMPTS` the row
    is `failed` and waits for an operator (`license_file_retry`).
    """
    row = _attempt(file_id, owned=owned)
    if row is None:  # ready already, held by another run, or no such row (`get` raises then)
        return LicenseFile.objects.get(pk=file_id)
    try:
        version = versions_of([row])[row.identifier]
        marked = _mark_ready(row, sign_row(row, version), previous=row.path)
    except Exception as exc:
        record_failure(row, exc)
        raise
    return LicenseFile.objects.get(pk=file_id) if marked is Marked.TAKEN else row


def _mark_ready(row: LicenseFile, ready: dict[str, Any], *, previous: str) -> Marked:
    with transaction.atomic():
        marked = ready_update(row, ready)
    settle_files(marked, ready["path"], previous)
    if marked is Marked.REVOKED:
        keystore.forget_current_keys()
        raise RetryableError(
            "file.seal_revoked",
            "签章所用印章已吊销，将用新印章重新签章",
            {"seal": ready["seal"].key_id},
        )
    return marked


def _field(name: str) -> models.Field:
    return cast(models.Field, LicenseFile._meta.get_field(name))


@functools.cache
def _ready_sql(vendor: str, names: tuple[str, ...]) -> str:
    """The ready update with its seal check, written once per process: the ORM compiled the
    same `UPDATE … WHERE EXISTS` for every file (≈ 0.5 ms of a signing process's time)."""
    quote = connection.ops.quote_name
    columns = [cast(str, _field(name).column) for name in names]
    keys = quote(SigningKey._meta.db_table)
    return (
        f"UPDATE {quote(LicenseFile._meta.db_table)} SET "  # noqa: S608 - model names only
        + ", ".join(f"{quote(column)} = %s" for column in columns)
        + f" WHERE {quote('id')} = %s AND {quote('state')} <> %s AND EXISTS (SELECT 1 "  # noqa: S608
        f"FROM {keys} WHERE {keys}.{quote('id')} = %s AND {keys}.{quote('revoked_at')} IS NULL)"
    )


class Marked(enum.Enum):
    READY = "ready"  # this run's file is the row's now
    TAKEN = "taken"  # another run of the same row marked its own file first
    REVOKED = "revoked"  # sealed with a seal revoked meanwhile: to be signed again


def ready_update(row: LicenseFile, ready: dict[str, Any]) -> Marked:
    """Inside the caller's transaction: the row becomes ready and the hub learns of the file
    (by digest, through the federation outbox), once — unless another run marked the row ready
    first (TAKEN: the hub has heard of that file, and only of it), or this file's seal was
    revoked meanwhile (REVOKED): a process may hold the seal for `FILES_KEY_CACHE_SECONDS`, and
    a file signed after the revocation would fail verification, so it is refused here and
    signed again with the successor."""
    values = []
    for name, value in ready.items():
        field = _field(name)
        plain = value.pk if isinstance(value, models.Model) else value
        values.append(field.get_db_prep_save(plain, connection))
    with connection.cursor() as cursor:
        cursor.execute(
            _ready_sql(connection.vendor, tuple(ready)),
            [*values, row.pk, LicenseFile.State.READY, ready["seal"].pk],
        )
        if cursor.rowcount != 1:
            taken = LicenseFile.objects.filter(pk=row.pk, state=LicenseFile.State.READY)
            return Marked.TAKEN if taken.exists() else Marked.REVOKED
    for name, value in ready.items():
        setattr(row, name, value)
    license_file_ready.send(sender=LicenseFile, file=row)
    return Marked.READY


def settle_files(marked: Marked, written: str, previous: str) -> None:
    """After the ready update committed (or not): the file a row no longer names goes. Marked
    ready, the row's file before (a re-rendering); otherwise this run's own file."""
    if marked is not Marked.READY:
        storage.remove(written)
    elif previous and previous != written:  # once the row naming the new one is committed
        transaction.on_commit(functools.partial(storage.remove, previous))
