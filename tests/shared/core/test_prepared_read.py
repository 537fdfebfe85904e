"""`PreparedRead`: a one-row read compiled once per process builds what the ORM builds (related
rows included, values converted), reads the database every time, and refuses a queryset it
cannot prepare."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from shared.accounts.authentication import TOKEN_BY_DIGEST
from shared.accounts.models import ApiToken
from shared.catalog.models import LicenseType
from shared.core.prepared import PreparedRead
from shared.licenses.issuing import TYPE_BY_CODE

pytestmark = pytest.mark.django_db


def test_a_token_read_equals_the_orms_with_its_user_and_agency(issuer, issuer_user):
    token = ApiToken.objects.get(user=issuer_user)
    orm = ApiToken.objects.select_related("user", "user__agency").get(pk=token.pk)
    # when: read twice (the second from the compiled SQL), related rows without a query more
    TOKEN_BY_DIGEST.first(token.digest)
    with CaptureQueriesContext(connection) as queries:
        read = TOKEN_BY_DIGEST.first(token.digest)
        agency = read.user.agency
    # then
    assert len(queries) == 1
    fields = [f.attname for f in ApiToken._meta.concrete_fields]
    assert [getattr(read, f) for f in fields] == [getattr(orm, f) for f in fields]
    assert (read.user.pk, read.user.username) == (orm.user.pk, orm.user.username)
    assert agency == orm.user.agency is not None
    assert read.created_at.tzinfo is not None


def test_every_read_goes_to_the_database(issuer, issuer_user):
    token = ApiToken.objects.get(user=issuer_user)
    assert TOKEN_BY_DIGEST.first(token.digest).revoked_at is None
    # when: revoked behind the process's back
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    # then: seen on the next read; an unknown digest is None
    assert TOKEN_BY_DIGEST.first(token.digest).revoked_at is not None
    assert TOKEN_BY_DIGEST.first("0" * 64) is None


def test_a_type_read_sees_a_withdrawal_at_once(license_type):
    assert TYPE_BY_CODE.first(license_type.type_code).state == LicenseType.State.PUBLISHED
    LicenseType.objects.filter(pk=license_type.pk).update(state=LicenseType.State.RETIRED)
    read = TYPE_BY_CODE.first(license_type.type_code)
    assert (read.pk, read.state) == (license_type.pk, LicenseType.State.RETIRED)
    assert read.surface_schema == license_type.surface_schema  # JSON converted as by the ORM


def test_a_queryset_without_exactly_one_string_parameter_is_refused():
    both = PreparedRead(lambda v: LicenseType.objects.filter(type_code=v, name=v)[:1])
    with pytest.raises(ValueError, match="exactly one"):
        both.first("x")
