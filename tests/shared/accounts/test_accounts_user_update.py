"""`user_update` and `user_password_set`: who may change whom, each change audited once."""

import pytest

from shared.accounts import services
from shared.accounts.models import User
from shared.audit.models import AuditEntry
from shared.core.errors import ConflictError, ForbiddenError, PermanentError
from tests.support import make_user

pytestmark = pytest.mark.django_db


def audited(action, user):
    return AuditEntry.objects.filter(action=action, target_id=str(user.pk)).count()


def test_an_agency_admin_manages_own_staff_but_not_library_roles(
    agency_admin, issuer_user, other_issuer_user, library_admin
):
    services.user_update(actor=agency_admin, user=issuer_user, role="agency_admin", email="a@b.cn")
    assert User.objects.get(pk=issuer_user.pk).role == "agency_admin"
    assert audited("user.update", issuer_user) == 1
    refusals = [
        (other_issuer_user, {"display_name": "x"}),  # another agency's staff
        (issuer_user, {"role": "supervisor"}),  # a library role
        (issuer_user, {"is_superuser": True}),  # admin access
        (issuer_user, {"agency": other_issuer_user.agency}),  # moving staff between agencies
        (library_admin, {"display_name": "x"}),  # the library admin
    ]
    for user, fields in refusals:
        with pytest.raises(ForbiddenError):
            services.user_update(actor=agency_admin, user=user, **fields)
    assert User.objects.get(pk=issuer_user.pk).is_superuser is False
    assert AuditEntry.objects.filter(action="user.update").count() == 1


def test_the_library_admin_changes_roles_within_the_rules(library_admin, issuer_user):
    with pytest.raises(ConflictError) as holder:
        services.user_update(actor=library_admin, user=issuer_user, role="holder")
    assert holder.value.code == "user.role_holder"
    with pytest.raises(ConflictError) as agency:
        services.user_update(actor=library_admin, user=issuer_user, agency=None)
    assert agency.value.code == "user.agency_required"
    with pytest.raises(PermanentError) as unknown:
        services.user_update(actor=library_admin, user=issuer_user, password="x")
    assert unknown.value.code == "user.field_not_editable"
    services.user_update(actor=library_admin, user=issuer_user, role="supervisor", agency=None)
    assert User.objects.get(pk=issuer_user.pk).is_supervisor
    assert audited("user.update", issuer_user) == 1


def test_only_the_library_admin_creates_a_supervisor(agency_admin, library_admin, issuer_agency):
    with pytest.raises(ForbiddenError):
        services.user_create(
            actor=agency_admin, agency=issuer_agency, username="sup", role="supervisor"
        )
    created = services.user_create(
        actor=library_admin, agency=None, username="sup", role="supervisor"
    )
    assert created.is_supervisor and created.agency is None
    assert audited("user.create", created) == 1


def test_a_password_set_for_someone_else_is_audited_without_it(agency_admin, issuer_user):
    services.user_password_set(actor=agency_admin, user=issuer_user, password="New-Pass-98765")
    assert User.objects.get(pk=issuer_user.pk).check_password("New-Pass-98765")
    entry = AuditEntry.objects.get(action="user.password")
    assert (entry.before, entry.after) == (None, None)
    assert entry.detail == {"username": "issuer_1", "usable": True}
    outsider = make_user("outsider", None, role="library_admin")
    with pytest.raises(ForbiddenError):
        services.user_password_set(actor=agency_admin, user=outsider, password="Other-Pass-1234")
