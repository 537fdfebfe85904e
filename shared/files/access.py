"""The one authorisation decision of the purpose-bound sharing endpoints (DESIGN §7).

Every share view (verify, verify-file, copies) calls `authorize_share` exactly once before it
answers, and the access is recorded before the answer leaves (no record, no answer): a consumer
agency needs a grant for the licence type and matter (`shared.access.services.use_authorize`,
which records its own refusals); the licence's issuer and the library administrator may check a
licence without a grant; anyone else is refused, and that refusal is recorded too.

"None" and "not allowed" look the same to a consumer (no enumeration): a licence of a type its
grants for the matter do not cover is recorded as refused and answered as if it did not exist.
"""

import functools
from datetime import date
from typing import Any

from shared.access import federated, ratelimit
from shared.access.models import AccessRecord
from shared.access.selectors import grants_active
from shared.access.services import access_record, rate_check, use_authorize
from shared.access.text import purpose_check
from shared.accounts.models import User
from shared.core.errors import ForbiddenError, PermanentError
from shared.files import verification
from shared.files.models import AnnotatedCopy
from shared.licenses.models import License, LicenseVersion

MAX_USE_CAUSE = 200
# The share views' operations, as the access log names them.
OPERATIONS = {"verify": "verify", "verify_file": "verify", "compare": "compare", "copy": "copy"}
Operation = AccessRecord.Operation
Outcome = AccessRecord.Outcome


def authorize_share(
    *, user: User, license: License | None, matter_code: str, use_cause: str, operation: str
) -> License | None:
    """Allow and record, or record and refuse; returns the licence the caller may be shown.

    `license` is None when the request named no licence of this library (the answer will be
    "查无此信息"); the caller must still be entitled to ask, and the access is still recorded.
    None is also returned for a licence outside the consumer's grants: the caller answers it
    exactly as a licence that does not exist, while the log records the refusal.
    """
    share_purpose_check(matter_code=matter_code, use_cause=use_cause)
    logged = OPERATIONS.get(operation, "verify")
    record = functools.partial(
        access_record,
        user=user,
        operation=logged,
        matter_code=matter_code,
        use_cause=use_cause,
        licenses=[license] if license is not None else [],
    )
    outcome = "allowed" if license is not None else "none"
    agency = user.agency
    own_licence = license is not None and agency is not None and license.issuer_id == agency.pk
    if user.is_library_admin or own_licence:
        record(outcome=outcome, detail={"endpoint": operation})
        return license
    if agency is not None and agency.active and agency.is_consumer:
        # Consumers spend the agency's budget (429 when over it, recorded); answers that found
        # nothing — or a licence outside the grants, answered the same — spend the smaller
        # budget of misses, so guessing identifiers runs out as guessing holder codes does.
        rate_check(user=user, operation=logged, matter_code=matter_code, use_cause=use_cause)
        # Any grant for the matter lets the agency ask (as for a licence that does not exist);
        # without one, the refusal is recorded and raised whatever the request named.
        use_authorize(
            user=user,
            license_type=None,
            matter_code=matter_code,
            use_cause=use_cause,
            operation=logged,
            holder_code=license.holder_code if license is not None else "",
            holder_code_type=license.holder_code_type if license is not None else "",
        )
        granted = license is None or (
            grants_active(
                agency=agency, matter_code=matter_code.strip(), license_type=license.license_type
            ).exists()
        )
        if not granted:
            record(
                outcome="refused",
                reason_code="access.no_grant",
                detail={"endpoint": operation, "answered_as": "not_found"},
            )
            ratelimit.rate_miss(agency_key=agency.code)
            return None
        if license is None:
            ratelimit.rate_miss(agency_key=agency.code)
        record(outcome=outcome, detail={"endpoint": operation})
        return license
    record(outcome="refused", reason_code="share.forbidden", detail={"endpoint": operation})
    error = ForbiddenError(
        "share.forbidden", "本单位无权对该证照执行此操作", {"operation": operation}
    )
    error.access_recorded = True  # type: ignore[attr-defined]  # recorded just above
    raise error


def forwarding(*, user: User, values: dict[str, Any], found: bool, hint: str) -> bool:
    """Whether a verify goes to the hub (`shared.access.federated`): at a city node with a hub,
    for a consumer, when the licence is not held here or the caller asks province-wide."""
    if federated.forwarder() is None or not federated.may_forward(user):
        return False
    return values.get("scope") == "province" or (not found and hint == "not_found")


def share_forward(*, user: User, values: dict[str, Any]) -> dict[str, Any]:
    """Forward a verify to the hub and record it here; the hub checks the grant and records
    it too. The same checks of matter, purpose and budget come first, as for a local one."""
    matter_code, use_cause = values["matter_code"], values["use_cause"]
    share_purpose_check(matter_code=matter_code, use_cause=use_cause)
    rate_check(user=user, operation="verify", matter_code=matter_code, use_cause=use_cause)
    data = {
        k: _plain(values[k])
        for k in ("identifier", "token", "type_code", "number", "holder_code", "fields")
        if values.get(k)
    }
    data |= {"matter_code": matter_code.strip(), "use_cause": use_cause}
    answer, _ = federated.forward(
        user=user,
        operation=Operation.VERIFY,
        data=data,
        matter_code=matter_code,
        use_cause=use_cause,
    )
    keys = ("info_result", "outcome", "license", "mismatched")
    return {k: answer.get(k) for k in keys} | {"forwarded_to": federated.hub_code()}


def _plain(value: Any) -> Any:
    """JSON for what a serializer validated (dates of compared fields)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, date):
        return value.isoformat()
    return value


def share_purpose_check(*, matter_code: str, use_cause: str) -> None:
    """Every share names its matter and why (art. 21), before anything is looked at."""
    if not matter_code.strip():
        raise PermanentError("share.matter_required", "必须填写事项编码", {"field": "matter_code"})
    if not use_cause.strip() or len(use_cause) > MAX_USE_CAUSE:
        raise PermanentError(
            "share.use_cause_required", "必须填写用证事由（不超过200字）", {"field": "use_cause"}
        )
    purpose_check(use_cause)


def download_record(
    *,
    user: User,
    license: License,
    file: str,
    identifier: str = "",
    matter_code: str = "",
    use_cause: str = "",
    extra: dict | None = None,
) -> None:
    """Record one file handed out (file.pdf, file.ofd, qr.png, a QR token, archive.zip, a
    copy): who, which licence, which file (docs/access-log.md). Called after the file is
    read and before the answer leaves: no record, no file."""
    access_record(
        user=user,
        operation=Operation.DOWNLOAD,
        matter_code=matter_code,
        use_cause=use_cause,
        licenses=[license],
        outcome=Outcome.ALLOWED,
        detail={"file": file, "identifier": identifier or license.identifier, **(extra or {})},
    )


def copy_download_authorize(*, user: User, copy: AnnotatedCopy) -> None:
    """A copy is downloaded under the grant it was made under: a consumer whose grant for
    the licence type and the copy's matter has since been revoked or has expired (or whose
    agency is no longer an active consumer) is refused, and the refusal recorded. The
    library administrator and the licence's issuer need no grant, as when the copy was made."""
    lic = copy.license
    agency = user.agency
    if user.is_library_admin or (agency is not None and lic.issuer_id == agency.pk):
        return
    granted = (
        agency is not None
        and agency.active
        and agency.is_consumer
        and grants_active(
            agency=agency, matter_code=copy.matter_code, license_type=lic.license_type
        ).exists()
    )
    if granted:
        return
    error = ForbiddenError(
        "access.no_grant",
        "本单位对该证照类型和事项的用证授权已撤销或失效，不能再下载此加注件",
        {"copy": str(copy.pk)},
    )
    access_record(
        user=user,
        operation=Operation.DOWNLOAD,
        matter_code=copy.matter_code,
        use_cause=copy.use_cause,
        licenses=[lic],
        outcome=Outcome.REFUSED,
        reason_code=error.code,
        detail={"file": "copy", "copy": str(copy.pk), "status": error.status_code},
    )
    error.access_recorded = True  # type: ignore[attr-defined]  # recorded just above
    raise error


def verify_answer(
    *,
    version: LicenseVersion | None,
    outcome: str,
    early: int | None,
    supplied: dict[str, Any],
) -> dict[str, Any]:
    """The answer of a purpose-bound verify (比对 included) for what the caller may be shown:
    `version` None answers "查无此信息" (or the early code of a token or incomplete request)."""
    mismatched: list[str] = []
    if version is not None:
        mismatched = verification.compare_fields(version, supplied)
        outcome = verification.version_outcome(version)
        code = 6 if mismatched else verification.OUTCOME_CODES[outcome]
    else:
        code = early if early is not None else 4
    return {
        "info_result": verification.info_result(code),
        "outcome": "mismatch" if mismatched else outcome,
        "license": verification.key_fields(version) if version and not mismatched else None,
        "mismatched": mismatched,
    }
