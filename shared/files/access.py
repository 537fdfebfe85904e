"""The one authorisation decision of the purpose-bound sharing endpoints (DESIGN §7).

Every share view (verify, verify-file, copies) calls `authorize_share` exactly once before it
answers, and the access is recorded before the answer leaves (no record, no answer): a consumer
agency needs a grant for the licence type and matter (`shared.access.services.use_authorize`,
which records its own refusals); the licence's issuer and the library administrator may check a
licence without a grant; anyone else is refused, and that refusal is recorded too.
"""

from shared.access.services import access_record, use_authorize
from shared.accounts.models import User
from shared.core.errors import ForbiddenError, PermanentError
from shared.licenses.models import License

MAX_USE_CAUSE = 200
# The share views' operations, as the access log names them.
OPERATIONS = {"verify": "verify", "verify_file": "verify", "compare": "compare", "copy": "copy"}


def authorize_share(
    *, user: User, license: License | None, matter_code: str, use_cause: str, operation: str
) -> None:
    """Allow and record, or record and refuse.

    `license` is None when the request named no licence of this library (the answer will be
    "查无此信息"); the caller must still be entitled to ask, and the access is still recorded.
    """
    if not matter_code.strip():
        raise PermanentError("share.matter_required", "必须填写事项编码", {"field": "matter_code"})
    if not use_cause.strip() or len(use_cause) > MAX_USE_CAUSE:
        raise PermanentError(
            "share.use_cause_required", "必须填写用证事由（不超过200字）", {"field": "use_cause"}
        )
    logged = OPERATIONS.get(operation, "verify")
    licences = [license] if license is not None else []
    outcome = "allowed" if license is not None else "none"
    agency = user.agency
    own_licence = license is not None and agency is not None and license.issuer_id == agency.pk
    if user.is_library_admin or own_licence:
        access_record(
            user=user,
            operation=logged,
            matter_code=matter_code,
            use_cause=use_cause,
            licenses=licences,
            outcome=outcome,
            detail={"endpoint": operation},
        )
        return
    if agency is not None and agency.active and agency.is_consumer:
        use_authorize(
            user=user,
            license_type=license.license_type if license is not None else None,
            matter_code=matter_code,
            use_cause=use_cause,
            operation=logged,
            holder_code=license.holder_code if license is not None else "",
            holder_code_type=license.holder_code_type if license is not None else "",
        )
        access_record(
            user=user,
            operation=logged,
            matter_code=matter_code,
            use_cause=use_cause,
            licenses=licences,
            outcome=outcome,
            detail={"endpoint": operation},
        )
        return
    access_record(
        user=user,
        operation=logged,
        matter_code=matter_code,
        use_cause=use_cause,
        licenses=licences,
        outcome="refused",
        reason_code="share.forbidden",
        detail={"endpoint": operation},
    )
    raise ForbiddenError(
        "share.forbidden", "本单位无权对该证照执行此操作", {"operation": operation}
    )
