"""Reads for agencies and staff, with who may see what (the API and the console alike)."""

from django.db.models import Q, QuerySet

from shared.accounts.models import Agency, ApiToken, User


def agency_list(*, user: User) -> QuerySet[Agency]:
    """Every agency for the library administrator; one's own agency for anyone else."""
    if user.is_library_admin:
        return Agency.objects.all()
    if user.agency_id is None:
        return Agency.objects.none()
    return Agency.objects.filter(pk=user.agency_id)


def staff_list(*, user: User) -> QuerySet[User]:
    """The staff `user` manages: everyone but holders for the library administrator, the
    agency's staff for an agency administrator, nobody for anyone else."""
    people = User.objects.exclude(role=User.Role.HOLDER).select_related("agency")
    if user.is_library_admin:
        return people.order_by("agency__code", "username")
    if user.is_agency_admin:
        return people.filter(agency=user.agency).order_by("username")
    return people.none()


def token_list(*, user: User) -> QuerySet[ApiToken]:
    """The API tokens of the staff `user` manages, and `user`'s own."""
    managed = staff_list(user=user).values("pk")
    return (
        ApiToken.objects.filter(Q(user=user) | Q(user__in=managed))
        .select_related("user", "user__agency")
        .order_by("-created_at")
    )
