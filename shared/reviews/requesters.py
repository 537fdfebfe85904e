"""Who may ask for a review of which licence (art. 24), and the access record of the asking.

A holder disputes only their own licences (the keyed digest of their code matches the
licence's). An application agency disputes a licence it uses: the request names the matter and
the purpose like any purpose-bound call, needs a grant for the licence's type and that matter
(`shared.access.services.use_authorize`, which records its own refusals), and is itself an
access record (operation `review`). As at the sharing endpoints, a licence outside the agency's
grants is answered exactly as one that does not exist, and the refusal is recorded.
"""

from dataclasses import dataclass

from django.conf import settings

from shared.access.models import AccessRecord
from shared.access.selectors import grants_active
from shared.access.services import access_record, rate_check, refusal_record, use_authorize
from shared.accounts.models import User
from shared.core.errors import ForbiddenError, NotFoundError, PermanentError
from shared.core.holder_codes import holder_codes_equal
from shared.domain.errors import DomainError
from shared.domain.identifiers import parse_identifier
from shared.domain.status import UNRELEASED
from shared.licenses import lookups
from shared.licenses.models import License, LicenseVersion

Operation = AccessRecord.Operation
HOLDER, AGENCY = "holder", "agency"


@dataclass(frozen=True, slots=True, kw_only=True)
class Requester:
    """Who asks: a holder, or staff of an application agency on its behalf."""

    kind: str
    user: User
    agency_code: str = ""


def requester_of(user: User) -> Requester:
    """The requester `user` may act as, or 403 `review.requester_role`: issuing staff, the
    library administrator and the supervisor do not file reviews (they answer or watch)."""
    if user.is_holder:
        if not user.holder_code_digest:
            raise ForbiddenError("review.holder_unknown", "持证人账户未登记持证主体代码")
        return Requester(kind=HOLDER, user=user)
    agency = user.agency
    if (
        agency is not None
        and agency.is_consumer
        and agency.active
        and not (user.is_supervisor or user.is_library_admin)
    ):
        return Requester(kind=AGENCY, user=user, agency_code=agency.code)
    raise ForbiddenError(
        "review.requester_role", "只有持证人或证照应用单位人员可以申请复核证照信息"
    )


def _not_found() -> NotFoundError:
    return NotFoundError("license.not_found", "证照不存在")


def _licence_by_identifier(identifier: str) -> License | None:
    """The released licence any of whose versions carries `identifier`, or None."""
    try:
        parse_identifier(identifier)
    except DomainError:
        return None
    version = (
        LicenseVersion.objects.select_related("license__license_type", "license__issuer")
        .filter(**lookups.version_terms(identifier, joined=True))
        .first()
    )
    if version is None or version.license.status in UNRELEASED:
        return None
    return version.license


def _check_local(lic: License) -> None:
    """The issuer answers where the licence was issued: a copy held here (a city's licence at
    the hub, a provincial one pushed down to a city) is disputed at its own library."""
    if lic.library_code != settings.LIBRARY_CODE:
        raise PermanentError(
            "review.other_library",
            f"该证照由证照库 {lic.library_code} 签发和管理，请向该证照库提出复核申请",
            {"library_code": lic.library_code},
        )


def licence_for_holder(*, requester: Requester, identifier: str) -> License:
    """The holder's own released licence named by `identifier`, or 404."""
    lic = _licence_by_identifier(identifier)
    user = requester.user
    if (
        lic is None
        or not holder_codes_equal(lic, user)
        or lic.holder_code_type != user.holder_code_type
    ):
        raise _not_found()
    _check_local(lic)
    return lic


def licence_for_agency(
    *, requester: Requester, identifier: str, matter_code: str, use_cause: str
) -> License:
    """The released licence named by `identifier` that the agency may use for `matter_code`,
    or a recorded refusal: 403 without any grant for the matter (or without a matter or a
    purpose), 404 for no such licence or one of a type outside the grants."""
    user = requester.user
    rate_check(user=user, operation=Operation.REVIEW, matter_code=matter_code, use_cause=use_cause)
    use_authorize(
        user=user,
        license_type=None,
        matter_code=matter_code,
        use_cause=use_cause,
        operation=Operation.REVIEW,
    )
    lic = _licence_by_identifier(identifier)
    agency = user.agency
    granted = (
        lic is not None
        and agency is not None
        and grants_active(
            agency=agency, matter_code=matter_code.strip(), license_type=lic.license_type
        ).exists()
    )
    if lic is None or not granted:
        error = _not_found()
        refusal_record(
            user=user,
            operation=Operation.REVIEW,
            error=error,
            matter_code=matter_code,
            use_cause=use_cause,
            licenses=[lic] if lic is not None else [],
        )
        raise error
    _check_local(lic)
    return lic


def access_allowed(
    *,
    requester: Requester,
    license: License,  # noqa: A002
    matter_code: str,
    use_cause: str,
    review_id: str,
) -> None:
    """The access record of an agency's review request that was accepted (a holder disputing
    their own licence uses nothing of anyone's)."""
    if requester.kind != AGENCY:
        return
    access_record(
        user=requester.user,
        operation=Operation.REVIEW,
        matter_code=matter_code.strip(),
        use_cause=use_cause,
        licenses=[license],
        outcome=AccessRecord.Outcome.ALLOWED,
        detail={"review": review_id},
    )
