"""The one authorisation decision of the purpose-bound sharing endpoints.

Every share view (verify, verify-file, copies) calls `authorize_share` exactly once before it
answers. Issue #5 (grants and the access log, `shared.access`) replaces this body with the grant
check (licence type × matter) and writes the access record, refusals included.
"""

from shared.accounts.models import User
from shared.core.errors import ForbiddenError, PermanentError
from shared.licenses.models import License

MAX_USE_CAUSE = 200


def authorize_share(
    *, user: User, license: License | None, matter_code: str, use_cause: str, operation: str
) -> None:
    """Allow the licence's issuing agency, any active consumer agency and library admins.

    `license` is None when the request named no licence of this library (the answer will be
    "查无此信息"); the caller must still be entitled to ask.
    """
    if not matter_code.strip():
        raise PermanentError("share.matter_required", "必须填写事项编码", {"field": "matter_code"})
    if not use_cause.strip() or len(use_cause) > MAX_USE_CAUSE:
        raise PermanentError(
            "share.use_cause_required", "必须填写用证事由（不超过200字）", {"field": "use_cause"}
        )
    if user.is_library_admin:
        return
    agency = user.agency
    if agency is None or not agency.active:
        raise ForbiddenError(
            "share.forbidden", "仅证照签发单位、证照应用单位或库管理员可使用共享接口"
        )
    if agency.is_consumer:
        return
    if license is None and agency.is_issuer:
        return
    if license is not None and license.issuer_id == agency.pk:
        return
    raise ForbiddenError(
        "share.forbidden", "本单位无权对该证照执行此操作", {"operation": operation}
    )
