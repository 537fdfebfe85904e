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


def admin_form(model, obj, user) -> dict:
    """The POST body of the admin's change form for `obj` as it stands (what a browser would
    send back unchanged), to which a test applies its edits."""
    from django import forms
    from django.contrib import admin
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.user = user
    model_admin = admin.site._registry[model]
    form = model_admin.get_form(request, obj, change=obj is not None)(instance=obj)
    data = {}
    for name, field in form.fields.items():
        if field.disabled:
            continue
        value = form[name].value()  # prepared for the widget, as the page renders it
        if isinstance(field, forms.BooleanField):
            if value:
                data[name] = "on"
        elif value is not None:
            data[name] = value
        if field.show_hidden_initial and value is not None:  # defaults that are callables
            data[f"initial-{name}"] = value
    return data
