"""Reads over holder accounts, for the library administrator's screen."""

from django.db.models import Q, QuerySet

from shared.accounts.models import User
from shared.identity.services import holder_has_device, recovery_codes_left

__all__ = ["holder_account_list", "holder_has_device", "recovery_codes_left"]


def holder_account_list(*, user: User, search: str = "") -> QuerySet[User]:
    """Holder accounts, for the library administrator only (by username or name)."""
    if not user.is_library_admin:
        return User.objects.none()
    people = User.objects.filter(role=User.Role.HOLDER).prefetch_related("external_identities")
    search = search.strip()[:100]
    if search:
        people = people.filter(Q(username__icontains=search) | Q(display_name__icontains=search))
    return people.order_by("username")
