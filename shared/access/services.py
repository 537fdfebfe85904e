"""Writes for purpose-bound use: authorisation, access records, the query itself (grants are
`shared.access.grants`).

`use_authorize` and `access_record` are the two functions every licence-using endpoint calls
(the files app's verify, verify-file and copies go through them too): no grant, no use; no
record, no answer (arts. 21–22, 27, 30).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import connections
from django.utils import timezone

from shared.access import ratelimit
from shared.access.log import committed_write, log_append
from shared.access.models import AccessRecord, AnonymousCount, Grant
from shared.access.selectors import grants_active
from shared.access.text import log_text, purpose_check
from shared.catalog.models import LicenseType
from shared.core.errors import (
    ApplicationError,
    ForbiddenError,
    PermanentError,
)
from shared.core.holder_codes import holder_code_digest, holder_code_normalise
from shared.licenses.models import License

MAX_USE_CAUSE = 200
QUERY_LIMIT = 100
Operation = AccessRecord.Operation
Outcome = AccessRecord.Outcome


class RateLimitedError(ApplicationError):
    status_code = 429


def _mark_recorded(exc: ApplicationError) -> ApplicationError:
    exc.access_recorded = True  # type: ignore[attr-defined]
    return exc


# --- access records --------------------------------------------------------------------------


def _text(value: Any, limit: int) -> str:
    """Text as the log stores it (valid UTF-8, no NUL, no control or bidi characters: see
    `shared.access.text.log_text`), cut to the column's length."""
    return log_text(value, limit)


def _clean_detail(value: Any) -> Any:
    if isinstance(value, str):
        return log_text(value, 10_000)
    if isinstance(value, dict):
        return {_clean_detail(str(k)): _clean_detail(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean_detail(v) for v in value]
    return value


def _license_row(lic: Any) -> dict[str, str]:
    if isinstance(lic, License):
        return {
            "identifier": lic.identifier,
            "type_code": lic.license_type.type_code,
            "issuer_code": lic.issuer.code,
            "source_library": lic.library_code,
            "holder_digest": lic.holder_code_digest,
            "holder_code_type": lic.holder_code_type,
        }
    if isinstance(lic, dict):
        return {k: str(lic.get(k, "")) for k in ("identifier", "type_code", "issuer_code")} | {
            "source_library": str(lic.get("source_library", "")),
            "holder_digest": str(lic.get("holder_digest", "")),
            "holder_code_type": str(lic.get("holder_code_type", "")),
        }
    return {"identifier": str(lic)}


def access_record(
    *,
    user: Any,
    operation: str,
    matter_code: str,
    use_cause: str,
    licenses: list,
    outcome: str,
    detail: dict | None = None,
    reason_code: str = "",
    holder_code: str = "",
    holder_code_type: str = "",
    request_id: uuid.UUID | None = None,
) -> AccessRecord:
    """Record one access: one row per licence (one row when there is none), all sharing a
    `request_id`; committed before this returns, even inside a transaction that later rolls
    back. Returns the first row. `licenses` holds License rows (or dicts with `identifier`,
    `type_code`, `issuer_code`); `holder_code` (plaintext) is kept only as its keyed digest."""
    if operation not in Operation.values:
        raise ValueError(f"unknown access operation {operation!r}")
    if outcome not in Outcome.values:
        raise ValueError(f"unknown access outcome {outcome!r}")
    detail = _clean_detail(dict(detail or {}))
    use_cause = _text(use_cause, 10_000).strip()
    if len(use_cause) > MAX_USE_CAUSE:
        use_cause, detail["use_cause_truncated"] = use_cause[:MAX_USE_CAUSE], True
    authenticated = bool(user is not None and getattr(user, "is_authenticated", False))
    agency = getattr(user, "agency", None) if authenticated else None
    holder_digest = ""
    holder_code = log_text(holder_code, 64)  # a refusal's code may be anything the caller sent
    if holder_code:
        holder_digest = holder_code_digest(holder_code_normalise(holder_code, holder_code_type))
    base = {
        "request_id": request_id or uuid.uuid4(),
        "library_code": settings.LIBRARY_CODE,
        "occurred_at": timezone.now(),
        "user_ref": user.pk if authenticated else None,
        "username": _text(user.get_username(), 150) if authenticated else "",
        "agency_code": agency.code if agency else "",
        "agency_name": agency.name if agency else "",
        "operation": operation,
        "outcome": outcome,
        "reason_code": _text(reason_code, 64),
        "matter_code": _text(matter_code, 64),
        "use_cause": use_cause,
        "detail": detail,
    }
    targets = [_license_row(lic) for lic in licenses] or [{}]
    rows = []
    for target in targets:
        row = AccessRecord(**base)
        row.identifier = _text(target.get("identifier"), 120)
        row.type_code = _text(target.get("type_code"), 21)
        row.issuer_code = _text(target.get("issuer_code"), 18)
        row.source_library = _text(target.get("source_library"), 6)
        row.holder_digest = target.get("holder_digest", "") or holder_digest
        row.holder_code_type = _text(target.get("holder_code_type") or holder_code_type, 3)
        rows.append(row)
    return log_append(rows)[0]


def refusal_record(
    *,
    user: Any,
    operation: str,
    error: ApplicationError,
    matter_code: str = "",
    use_cause: str = "",
    holder_code: str = "",
    holder_code_type: str = "",
    licenses: list | None = None,
) -> None:
    """Record a refusal (before the error answer leaves) and mark the error as recorded."""
    access_record(
        user=user,
        operation=operation,
        matter_code=matter_code,
        use_cause=use_cause,
        licenses=licenses or [],
        outcome=Outcome.REFUSED,
        reason_code=error.code,
        holder_code=holder_code,
        holder_code_type=holder_code_type,
        detail={"status": error.status_code},
    )
    _mark_recorded(error)


def anonymous_refusal(*, kind: str, client: str) -> bool:
    """Count a refusal of a caller who did not say who it is, in this minute's row for `kind`
    (`AnonymousCount`), not as a chained record: anonymous callers cannot grow the permanent
    log or write text into it. `kind` is one of ours (e.g. `api:auth.required`), never the
    caller's. Returns True when the client (its address) is over `ACCESS_ANON_PER_MINUTE`
    this minute: the caller answers 429. Committed even if the caller's transaction rolls
    back (`committed_write`)."""
    limited = not ratelimit.anonymous_take(client_key=client or "-")
    if not settings.ACCESS_LOG_ENABLED:
        return limited
    minute = timezone.now().replace(second=0, microsecond=0)
    table = AnonymousCount._meta.db_table
    field = AnonymousCount._meta.get_field("minute")

    def write(alias: str) -> None:
        connection = connections[alias]
        # One statement, whatever the race: the row of this minute and kind is made or counted.
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (minute, kind, count, limited) "  # noqa: S608 - model table
                "VALUES (%s, %s, 1, %s) ON CONFLICT (minute, kind) DO UPDATE SET "
                f"count = {table}.count + 1, limited = {table}.limited + excluded.limited",
                [field.get_db_prep_save(minute, connection), kind[:64], int(limited)],
            )

    committed_write(write)
    return limited


# --- authorisation ---------------------------------------------------------------------------


def _refuse(
    *,
    user: Any,
    operation: str,
    code: str,
    message: str,
    matter_code: str,
    use_cause: str,
    holder_code: str,
    holder_code_type: str,
) -> ForbiddenError:
    error = ForbiddenError(code, message)
    refusal_record(
        user=user,
        operation=operation,
        error=error,
        matter_code=matter_code,
        use_cause=use_cause,
        holder_code=holder_code,
        holder_code_type=holder_code_type,
    )
    agency = getattr(user, "agency", None) if getattr(user, "is_authenticated", False) else None
    if agency is not None:
        ratelimit.rate_miss(agency_key=agency.code)
    return error


def caller_check(
    *,
    user: Any,
    matter_code: str,
    use_cause: str,
    operation: str,
    holder_code: str,
    holder_code_type: str,
) -> None:
    """Everything a purpose-bound call must satisfy before grants are looked at: an active
    consumer, a matter, a visible purpose of ≤ 200 characters, a holder for a query. Each
    refusal is recorded before it is raised (the same codes at every library)."""
    said = {
        "user": user,
        "operation": operation,
        "matter_code": matter_code,
        "use_cause": use_cause,
        "holder_code": holder_code,
        "holder_code_type": holder_code_type,
    }
    authenticated = bool(user is not None and getattr(user, "is_authenticated", False))
    agency = getattr(user, "agency", None) if authenticated else None
    if agency is None or not agency.is_consumer or not agency.active:
        raise _refuse(**said, code="access.not_consumer", message="只有证照应用单位的人员可以用证")
    if not (matter_code or "").strip():
        raise _refuse(**said, code="access.matter_required", message="用证必须指明办理的事项编码")
    cause = (use_cause or "").strip()
    if not cause:
        raise _refuse(**said, code="access.purpose_required", message="用证必须填写用证事由")
    if len(cause) > MAX_USE_CAUSE:
        raise _refuse(
            **said,
            code="access.purpose_too_long",
            message=f"用证事由不能超过 {MAX_USE_CAUSE} 个字符",
        )
    try:
        purpose_check(cause)
    except PermanentError as invalid:
        refusal_record(
            user=user,
            operation=operation,
            error=invalid,
            matter_code=matter_code,
            use_cause=use_cause,
            holder_code=holder_code,
            holder_code_type=holder_code_type,
        )
        raise
    if operation == Operation.QUERY and not (holder_code or "").strip():
        raise _refuse(**said, code="access.holder_required", message="查询必须指明持证主体代码")


def no_grant(
    *,
    user: Any,
    operation: str,
    matter_code: str,
    use_cause: str,
    holder_code: str = "",
    holder_code_type: str = "",
) -> ForbiddenError:
    """The recorded `access.no_grant` refusal, to raise."""
    return _refuse(
        user=user,
        operation=operation,
        code="access.no_grant",
        message="本单位没有该证照类型和事项的用证授权",
        matter_code=matter_code,
        use_cause=use_cause,
        holder_code=holder_code,
        holder_code_type=holder_code_type,
    )


def _authorize(
    *,
    user: Any,
    license_type: LicenseType | None,
    matter_code: str,
    use_cause: str,
    operation: str,
    holder_code: str,
    holder_code_type: str,
) -> list[Grant]:
    said = {
        "user": user,
        "operation": operation,
        "matter_code": matter_code,
        "use_cause": use_cause,
        "holder_code": holder_code,
        "holder_code_type": holder_code_type,
    }
    caller_check(**said)
    grants = list(
        grants_active(
            agency=user.agency, matter_code=matter_code.strip(), license_type=license_type
        )
    )
    if not grants:
        raise no_grant(**said)
    return grants


def use_authorize(
    *,
    user: Any,
    license_type: LicenseType | None,
    matter_code: str,
    use_cause: str,
    operation: str,
    holder_code: str = "",
    holder_code_type: str = "",
) -> Grant:
    """The grant under which `user` may use licences of `license_type` for `matter_code`.

    Raises `ForbiddenError` (`access.not_consumer`, `access.matter_required`,
    `access.purpose_required`, `access.purpose_too_long`, `access.holder_required`,
    `access.no_grant`; 400 `access.purpose_invalid` for a purpose of invisible, control or
    bidi characters) after recording the refusal as an access record that survives the
    caller's transaction rolling back. `license_type=None` accepts a grant of any type.
    """
    return _authorize(
        user=user,
        license_type=license_type,
        matter_code=matter_code,
        use_cause=use_cause,
        operation=operation,
        holder_code=holder_code,
        holder_code_type=holder_code_type,
    )[0]


def rate_check(*, user: Any, operation: str, matter_code: str = "", use_cause: str = "") -> None:
    """Count a purpose-bound call against the agency's budget; over it → recorded 429."""
    agency = getattr(user, "agency", None) if getattr(user, "is_authenticated", False) else None
    if agency is None:
        return
    if not ratelimit.rate_take(agency_key=agency.code):
        error = RateLimitedError(
            "rate_limited",
            "请求过于频繁，请稍后再试",
            {"retry_after_seconds": ratelimit.retry_after()},
        )
        refusal_record(
            user=user,
            operation=operation,
            error=error,
            matter_code=matter_code,
            use_cause=use_cause,
        )
        raise error


# The purpose-bound query lives in `shared.access.query`; its names stay importable from here.
from shared.access.query import QueryAnswer, query_answer, share_query  # noqa: E402

__all__ = ["QueryAnswer", "query_answer", "share_query"]
