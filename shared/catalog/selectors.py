"""Reads for the licence catalogue."""

from django.db.models import Q, QuerySet

from shared.accounts.models import User
from shared.catalog.models import LicenseType


def license_type_list(*, user: User) -> QuerySet[LicenseType]:
    """Published and retired types are public to signed-in users; drafts only to their owner."""
    visible = ~Q(state=LicenseType.State.DRAFT)
    if user.agency_id is not None:
        visible |= Q(issuer_id=user.agency_id)
    if user.is_library_admin:
        visible = Q()
    return LicenseType.objects.filter(visible).select_related("issuer")
