"""Reads for licences, with the visibility rules of the foundation.

An issuing agency sees its own licences in every state (drafts under review included); the
library administrator sees every released licence. Consumers reach licences only through the
purpose-bound sharing API, never by listing.
"""

from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL

from shared.accounts.models import User
from shared.core.errors import NotFoundError
from shared.domain.status import UNRELEASED
from shared.licenses import keys as keys_here
from shared.licenses import lookups
from shared.licenses.models import Batch, License, LicenseEvent, LicenseVersion


def license_list(*, user: User) -> QuerySet[License]:
    base = License.objects.select_related("license_type", "issuer")
    if user.is_library_admin:
        return base.exclude(status__in=UNRELEASED)
    if user.agency is not None and user.agency.is_issuer:
        return base.filter(issuer_id=user.agency_id)
    return base.none()


def license_get(*, user: User, identifier: str) -> License:
    """The licence any of whose versions carries `identifier`, if the user may see it."""
    lic = license_list(user=user).filter(**lookups.licence_terms_by_version(identifier)).first()
    if lic is None:
        raise NotFoundError("license.not_found", "证照不存在")
    return lic


def license_versions(*, license: License) -> QuerySet[LicenseVersion]:
    return LicenseVersion.objects.filter(**lookups.history_terms(license)).order_by("version")


def license_events(*, license: License) -> QuerySet[LicenseEvent]:
    return (
        LicenseEvent.objects.filter(**lookups.history_terms(license))
        .select_related("actor")
        .order_by("seq")
    )


def batch_list(*, user: User) -> QuerySet[Batch]:
    if user.is_library_admin:
        return Batch.objects.all()
    if user.agency_id is None:
        return Batch.objects.none()
    return Batch.objects.filter(Q(issuer_id=user.agency_id))


def licences_by_natural_key(keys: list[tuple[int, int, str]]) -> QuerySet[License]:
    """The licences named by (issuer id, type id, serial), however many: on PostgreSQL one join
    against the keys as arrays (one index probe each); elsewhere OR-ed conditions."""
    if not keys:
        return License.objects.none()
    if keys_here.key_tables():
        # the hub's partitioned table: the key table finds the rows and their cities, so the
        # read of the rows themselves plans over those cities' partitions only
        found = keys_here.natural_key_rows(keys)
        return License.objects.filter(
            pk__in=[pk for pk, _ in found], library_code__in={city for _, city in found}
        )
    if connection.vendor == "postgresql":
        issuers, types, serials = (list(column) for column in zip(*keys, strict=True))
        return License.objects.filter(
            pk__in=RawSQL(
                "SELECT l.id FROM licenses_license l JOIN unnest(%s::bigint[], %s::bigint[], "
                "%s::text[]) AS k(issuer_id, type_id, serial) ON l.issuer_id = k.issuer_id "
                "AND l.license_type_id = k.type_id AND l.serial = k.serial",
                (issuers, types, serials),
            )
        )
    exact = Q(pk__in=[])
    for issuer_id, type_id, serial in keys:
        exact |= Q(issuer_id=issuer_id, license_type_id=type_id, serial=serial)
    return License.objects.filter(exact)
