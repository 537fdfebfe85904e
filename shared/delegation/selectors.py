"""Reads for delegations: those a legal person granted, those a staff account holds now."""

from django.db.models import QuerySet
from django.utils import timezone

from shared.accounts.models import User
from shared.delegation.models import Delegation


def delegations_granted(*, principal: User) -> QuerySet[Delegation]:
    return Delegation.objects.filter(principal=principal).select_related("delegate")


def delegations_held(*, delegate: User) -> QuerySet[Delegation]:
    """The delegations `delegate` may act under now (unrevoked, unexpired)."""
    return (
        Delegation.objects.filter(
            delegate=delegate, revoked_at__isnull=True, expires_at__gt=timezone.now()
        )
        .filter(principal__is_active=True)
        .select_related("principal")
        .order_by("principal__display_name")
    )
