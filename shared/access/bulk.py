"""Bulk analysis (art. 21): a consumer applies, the issuer of the types decides, a Celery job
writes one time-limited export limited to the approved fields; every step is an access record.

The export job is a row an operator can watch (`state`, `rows_done` / `rows_total`,
`attempts`, `last_error`) and retry; running it twice rewrites the same file.
"""

from __future__ import annotations

import csv
import json
import os
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from shared.access.bulk_fields import allowed_fields, approved_fields
from shared.access.models import AccessRecord, BulkRequest
from shared.access.services import access_record, refusal_record
from shared.access.text import csv_cell, purpose_check
from shared.accounts.models import User
from shared.catalog.models import LicenseType
from shared.conf.env import var_dir
from shared.core.effects import enqueue_on_commit
from shared.core.errors import ConflictError, ForbiddenError, NotFoundError, PermanentError
from shared.domain.status import UNRELEASED
from shared.licenses.models import License

Operation = AccessRecord.Operation
Outcome = AccessRecord.Outcome
MAX_ATTEMPTS = 5
# Across tiers: the hub sends a request down to the city of its issuer, the city's decision
# comes back up (provincial_hub.aggregation.bulk, municipal_node.uplink.bulk).
REQUEST_KIND, DECISION_KIND, WIRE_SCHEMA = "bulk.request", "bulk.decision", 1
PROGRESS_EVERY = 200


def _export_dir() -> Path:
    path = Path(settings.BULK_EXPORT_DIR or var_dir() / "bulk-exports")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _not_found() -> NotFoundError:
    return NotFoundError("bulk.not_found", "批量分析申请不存在")


class BulkFederation:
    """What a tier adds to bulk analysis across libraries (issue #13 item 4), registered from
    its AppConfig.ready; the defaults are a library alone. Both are called inside the
    service's transaction, so what they write (an outbox row) commits with the change."""

    def created(self, request: BulkRequest) -> None:
        """A request was made here: hand it to the library whose issuer decides it (and set
        `decider_library`), or refuse it (an ApplicationError rolls the request back)."""

    def decided(self, request: BulkRequest) -> None:
        """A request was decided here: send the decision back to where it was made."""


_federation = BulkFederation()


def bulk_federation_register(federation: BulkFederation) -> None:
    global _federation
    _federation = federation


def _decidable_here(request: BulkRequest) -> None:
    """A request whose issuer belongs to another library is decided there, never here."""
    if request.decider_library:
        raise ConflictError(
            "bulk.decided_elsewhere",
            f"该申请由签发单位所在的证照库（{request.decider_library}）审批",
            {"decider_library": request.decider_library},
        )


@transaction.atomic
def bulk_request_create(
    *,
    actor: User,
    type_codes: list[str],
    fields: list[str],
    period_from: date,
    period_to: date,
    matter_code: str,
    purpose: str,
    row_cap: int,
    format: str = BulkRequest.Format.CSV,  # noqa: A002 - the API's field name
) -> BulkRequest:
    agency = actor.agency
    if agency is None or not agency.is_consumer or not agency.active or actor.is_holder:
        error = ForbiddenError("access.not_consumer", "只有证照应用单位的人员可以申请批量分析")
        refusal_record(
            user=actor,
            operation=Operation.BULK_REQUEST,
            error=error,
            matter_code=matter_code,
            use_cause=purpose,
        )
        raise error
    purpose, matter_code = purpose.strip(), matter_code.strip()
    if not purpose or not matter_code:
        raise PermanentError("bulk.purpose_required", "批量分析申请必须填写事项编码和用途")
    purpose_check(purpose, field="purpose")
    types = list(LicenseType.objects.filter(type_code__in=set(type_codes)))
    if len(types) != len(set(type_codes)):
        raise NotFoundError("catalog.type_not_found", "证照类型不存在")
    if len({t.issuer_id for t in types}) != 1:
        raise PermanentError(
            "bulk.mixed_issuers", "一次申请只能包含同一签发单位的证照类型，由其审批"
        )
    unknown = sorted(set(fields) - allowed_fields(types))
    if unknown:
        raise PermanentError("bulk.field_unknown", "申请的字段不存在", {"fields": unknown})
    if period_to < period_from:
        raise PermanentError("bulk.period", "期间截止日期不能早于起始日期")
    if row_cap > settings.BULK_MAX_ROWS:
        raise PermanentError(
            "bulk.row_cap",
            f"行数上限不能超过 {settings.BULK_MAX_ROWS}",
            {"max": settings.BULK_MAX_ROWS},
        )
    request = BulkRequest.objects.create(
        agency=agency,
        requested_by=actor,
        issuer_id=types[0].issuer_id,
        fields=list(dict.fromkeys(fields)),
        period_from=period_from,
        period_to=period_to,
        matter_code=matter_code,
        purpose=purpose,
        row_cap=row_cap,
        format=format,
    )
    request.license_types.set(types)
    _federation.created(request)
    access_record(
        user=actor,
        operation=Operation.BULK_REQUEST,
        matter_code=matter_code,
        use_cause=purpose,
        licenses=[],
        outcome=Outcome.ALLOWED,
        detail={"bulk_request": str(request.pk), "type_codes": sorted(type_codes)},
    )
    return request


@transaction.atomic
def bulk_request_decide(
    *,
    actor: User,
    bulk_request_id: uuid.UUID,
    approve: bool,
    reason: str = "",
    fields: list[str] | None = None,
    expires_in_days: int | None = None,
) -> BulkRequest:
    """The issuer of the requested types approves or refuses (with a reason).

    An approval grants the requested fields, or `fields`: a non-empty subset of them (never
    more, never one the types do not allow: 400, nothing changed); the export then has only
    the approved fields (`approved_fields`, which the requester reads)."""
    request = BulkRequest.objects.select_for_update().filter(pk=bulk_request_id).first()
    if request is None or actor.agency_id is None:
        raise _not_found()
    if actor.agency_id != request.issuer_id:
        if actor.agency_id == request.agency_id:
            raise ForbiddenError("bulk.not_issuer", "只有所申请证照类型的签发单位可以审批")
        raise _not_found()
    _decidable_here(request)
    if request.state != BulkRequest.State.PENDING:
        raise ConflictError("bulk.state", "该申请已审批", {"state": request.state})
    reason = reason.strip()
    if approve:
        request.approved_fields = approved_fields(request, fields)
        request.state = BulkRequest.State.APPROVED
        days = expires_in_days or settings.BULK_EXPORT_DAYS
        request.expires_at = timezone.now() + timedelta(days=days)
    else:
        if not reason:
            raise PermanentError("bulk.reason_required", "拒绝必须填写理由", {"field": "reason"})
        request.state = BulkRequest.State.REFUSED
    request.decided_by, request.decided_at, request.decision_reason = actor, timezone.now(), reason
    request.save()
    _federation.decided(request)
    access_record(
        user=actor,
        operation=Operation.BULK_DECISION,
        matter_code=request.matter_code,
        use_cause=request.purpose,
        licenses=[],
        outcome=Outcome.ALLOWED if approve else Outcome.REFUSED,
        reason_code="" if approve else "bulk.refused",
        detail={
            "bulk_request": str(request.pk),
            "approved": approve,
            "reason": reason,
            "fields": request.approved_fields if approve else [],
        },
    )
    if approve:
        from shared.access.tasks import bulk_export

        enqueue_on_commit(bulk_export, str(request.pk))
    return request


def _value(lic: License, name: str) -> Any:
    if name.startswith("surface."):
        return (lic.surface or {}).get(name.removeprefix("surface."), "")
    if name == "type_code":
        return lic.license_type.type_code
    if name == "type_name":
        return lic.license_type.name
    if name == "issuer_code":
        return lic.issuer.code
    value = getattr(lic, name)
    return value.isoformat() if isinstance(value, date) else value


def bulk_export_run(*, bulk_request_id: str) -> BulkRequest | None:
    """Write the export of an approved request. Idempotent: a finished, refused or expired
    request is left alone; a failed or interrupted one is written again from the start."""
    with transaction.atomic():
        request = BulkRequest.objects.select_for_update().filter(pk=bulk_request_id).first()
        runnable = (
            BulkRequest.State.APPROVED,
            BulkRequest.State.EXPORTING,
            BulkRequest.State.FAILED,
        )
        if request is None or request.state not in runnable or request.origin_library:
            return request  # a request from another library is exported there
        if request.expires_at and request.expires_at <= timezone.now():
            request.state = BulkRequest.State.EXPIRED
            request.save(update_fields=["state"])
            return request
        request.state, request.started_at = BulkRequest.State.EXPORTING, timezone.now()
        request.attempts += 1
        request.rows_done, request.last_error = 0, ""
        request.save()
    try:
        _write_export(request)
    except Exception as exc:
        BulkRequest.objects.filter(pk=request.pk).update(
            state=BulkRequest.State.FAILED, last_error=f"{type(exc).__name__}: {exc}"[:500]
        )
        raise
    request.refresh_from_db()
    return request


def _write_export(request: BulkRequest) -> None:
    licences = (
        License.objects.filter(
            license_type__in=request.license_types.all(),
            issue_date__gte=request.period_from,
            issue_date__lte=request.period_to,
        )
        .exclude(status__in=UNRELEASED)
        .select_related("license_type", "issuer")
        .order_by("id")
    )
    total = min(licences.count(), request.row_cap)
    BulkRequest.objects.filter(pk=request.pk).update(rows_total=total)
    fields = list(request.approved_fields)
    path = _export_dir() / f"bulk-{request.pk}.{request.format}"
    tmp = path.with_suffix(".tmp")
    record_id = uuid.uuid4()
    done, batch = 0, []
    with open(tmp, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out) if request.format == BulkRequest.Format.CSV else None
        if writer is not None:
            out.write("\ufeff")
            writer.writerow(fields)
        for lic in licences[:total].iterator(chunk_size=500):
            row = [_value(lic, name) for name in fields]
            if writer is not None:
                writer.writerow([csv_cell(value) for value in row])  # no formulas from data
            else:
                out.write(
                    json.dumps(dict(zip(fields, row, strict=True)), ensure_ascii=False) + "\n"
                )
            done += 1
            batch.append(lic)
            if len(batch) >= PROGRESS_EVERY:
                _log_rows(request, batch, record_id)
                batch = []
                BulkRequest.objects.filter(pk=request.pk).update(rows_done=done)
        out.flush()
        os.fsync(out.fileno())
    _log_rows(request, batch, record_id)
    tmp.replace(path)
    BulkRequest.objects.filter(pk=request.pk).update(
        rows_done=done,
        file_path=str(path),
        file_digest=_file_sm3(path),
        state=BulkRequest.State.READY,
        finished_at=timezone.now(),
    )


def _log_rows(request: BulkRequest, licences: list[License], record_id: uuid.UUID) -> None:
    if not licences:
        return
    access_record(
        user=request.requested_by,
        operation=Operation.EXPORT,
        matter_code=request.matter_code,
        use_cause=request.purpose,
        licenses=licences,
        outcome=Outcome.ALLOWED,
        detail={"bulk_request": str(request.pk)},
        request_id=record_id,
    )


def _file_sm3(path: Path) -> str:
    """SM3 of a file read a MiB at a time: an export of BULK_MAX_ROWS rows is tens of MB."""
    digest = hashes.Hash(hashes.SM3())
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.finalize().hex()


def bulk_download(*, user: User, bulk_request_id: uuid.UUID) -> tuple[BulkRequest, Path]:
    """The export file's path, for the requesting agency only, until it expires; logged with
    the digest of what is sent. The caller streams the file (it is not read into memory)."""
    request = BulkRequest.objects.filter(pk=bulk_request_id).first()
    if request is None or user.agency_id is None or request.agency_id != user.agency_id:
        raise _not_found()
    if request.expires_at and request.expires_at <= timezone.now():
        raise ConflictError(
            "bulk.expired", "导出文件已过期", {"expires_at": request.expires_at.isoformat()}
        )
    if request.state != BulkRequest.State.READY:
        raise ConflictError(
            "bulk.not_ready", "导出尚未完成或申请未获批准", {"state": request.state}
        )
    path = Path(request.file_path)
    access_record(
        user=user,
        operation=Operation.DOWNLOAD,
        matter_code=request.matter_code,
        use_cause=request.purpose,
        licenses=[],
        outcome=Outcome.ALLOWED,
        detail={
            "bulk_request": str(request.pk),
            "sm3": _file_sm3(path),
            "rows": request.rows_done,
        },
    )
    return request, path


def bulk_sweep() -> list[str]:
    """Expire exports past their date (the file is removed) and return the ids of exports to
    run again (interrupted for 10 minutes, or failed with attempts left)."""
    now = timezone.now()
    for request in BulkRequest.objects.filter(state=BulkRequest.State.READY, expires_at__lte=now):
        Path(request.file_path).unlink(missing_ok=True)
        BulkRequest.objects.filter(pk=request.pk).update(state=BulkRequest.State.EXPIRED)
    stale = BulkRequest.objects.filter(
        state=BulkRequest.State.EXPORTING, started_at__lt=now - timedelta(minutes=10)
    )
    failed = BulkRequest.objects.filter(state=BulkRequest.State.FAILED, attempts__lt=MAX_ATTEMPTS)
    approved = BulkRequest.objects.filter(
        state=BulkRequest.State.APPROVED,
        decided_at__lt=now - timedelta(minutes=2),
        origin_library="",
    )
    return [str(pk) for q in (stale, failed, approved) for pk in q.values_list("pk", flat=True)]
