"""Fixtures for the audit tests: readers (the supervisor), a Django-admin session, counters."""

import pytest
from django.test import Client

from shared.accounts import services as accounts
from shared.audit.models import AuditEntry
from tests.support import make_user, token_client


def rows(action: str | None = None, **filters):
    found = AuditEntry.objects.all()
    if action:
        found = found.filter(action=action)
    return list(found.filter(**filters).order_by("id"))


@pytest.fixture
def supervisor_user(db):
    return make_user("supervisor", None, role="supervisor")


@pytest.fixture
def supervisor(supervisor_user):
    return token_client(supervisor_user)


@pytest.fixture
def root(db):
    """A library administrator who may use the Django admin (staff and superuser)."""
    user = make_user("root", None, role="library_admin")
    return accounts.user_update(actor=None, user=user, is_staff=True, is_superuser=True)


@pytest.fixture
def console(root):
    client = Client()
    client.force_login(root)
    return client
