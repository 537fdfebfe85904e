"""Reads: who may see which access records and grants; the grants in force."""

from datetime import datetime, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from shared.access.models import AccessRecord, BulkRequest, Grant
from shared.accounts.models import Agency, User
from shared.catalog.models import LicenseType
from shared.core.holder_codes import holder_digests_of


def access_log_visible(*, user: User) -> QuerySet[AccessRecord]:
    """The library administrator sees every record; an issuing agency the uses of its own
    licences (art. 27); a consuming agency its own uses. Nobody else sees any."""
    records = AccessRecord.objects.all()
    if not getattr(user, "is_authenticated", False):
        return records.none()
    if user.is_library_admin:
        return records
    agency = user.agency
    if agency is None or user.is_holder:
        return records.none()
    scope = Q(pk__in=[])
    if agency.is_issuer:
        scope |= Q(issuer_code=agency.code)
    if agency.is_consumer:
        scope |= Q(agency_code=agency.code)
    return records.filter(scope)


# A record is written after it happened (an imported one maybe long after), so a lower bound
# on `occurred_at` is one on `recorded_at` too, less a day for clocks that disagree; that bound
# lets PostgreSQL skip every older month's partition (docs/access-log.md).
WRITE_SLACK = timedelta(days=1)


def access_log_since(
    records: QuerySet[AccessRecord], *, moment: datetime
) -> QuerySet[AccessRecord]:
    """The records that happened at or after `moment`, read from the months that can hold them."""
    records = records.filter(occurred_at__gte=moment)
    try:
        return records.filter(recorded_at__gte=moment - WRITE_SLACK)
    except OverflowError:  # a moment within a day of year 1: no month to skip
        return records


def access_log_for_holder(*, user: User) -> QuerySet[AccessRecord]:
    """Every use of licences held by this holder (by the keyed digest of their code)."""
    if not getattr(user, "is_holder", False) or not user.holder_code_digest:
        return AccessRecord.objects.none()
    return AccessRecord.objects.filter(
        holder_digest__in=holder_digests_of(user), holder_code_type=user.holder_code_type
    ).exclude(operation=AccessRecord.Operation.HOLDER_VIEW)


def grant_list(*, user: User) -> QuerySet[Grant]:
    grants = Grant.objects.select_related("agency", "license_type")
    if not getattr(user, "is_authenticated", False):
        return grants.none()
    if user.is_library_admin:
        return grants
    if user.agency is not None and user.agency.is_consumer and not user.is_holder:
        return grants.filter(agency=user.agency)
    return grants.none()


def bulk_request_list(*, user: User) -> QuerySet[BulkRequest]:
    requests = BulkRequest.objects.select_related("agency", "issuer", "requested_by")
    if not getattr(user, "is_authenticated", False):
        return requests.none()
    if user.is_library_admin:
        return requests
    if user.agency_id is None or user.is_holder:
        return requests.none()
    return requests.filter(Q(agency_id=user.agency_id) | Q(issuer_id=user.agency_id))


def grants_active(
    *, agency: Agency, matter_code: str, license_type: LicenseType | None = None
) -> QuerySet[Grant]:
    today = timezone.localdate()
    # with its type: a query names the granted types' codes (one query, not one per grant)
    grants = (
        Grant.objects.filter(
            agency=agency, matter_code=matter_code, revoked_at__isnull=True, valid_from__lte=today
        )
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gte=today))
        .select_related("license_type")
    )
    if license_type is not None:
        grants = grants.filter(license_type=license_type)
    return grants
