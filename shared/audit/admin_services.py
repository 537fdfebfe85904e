"""`ServiceAdmin`: a Django admin whose writes go through the services, so an edit made there
obeys the same rules, writes the same outbox rows and the same audit row as the API's.

A model admin built on it overrides `save_model` / `delete_model` / its actions to call the
service with `request.user` as the actor. A refusal (`ApplicationError`, `DomainError`) rolls
the whole admin request back and comes back as an error message on the page it came from.
"""

from typing import Any

from django.contrib import admin, messages
from django.db import models
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from shared.audit.context import audit_via
from shared.core.errors import ApplicationError
from shared.domain.errors import DomainError

REFUSALS = (ApplicationError, DomainError)


def adopt(obj: models.Model, saved: models.Model) -> None:
    """Make the admin's unsaved `obj` the row a service created, so the admin's own log and
    redirect name it."""
    for field in obj._meta.concrete_fields:
        setattr(obj, field.attname, getattr(saved, field.attname))
    obj._state.adding = False
    obj._state.db = saved._state.db


def refused(request: HttpRequest, exc: Exception) -> HttpResponse:
    messages.error(request, getattr(exc, "message", str(exc)))
    return HttpResponseRedirect(request.get_full_path())


class ServiceAdmin(admin.ModelAdmin):
    def changeform_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with audit_via("admin"):
            try:
                return super().changeform_view(request, *args, **kwargs)
            except REFUSALS as exc:  # raised inside the admin's transaction: rolled back
                return refused(request, exc)

    def delete_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with audit_via("admin"):
            try:
                return super().delete_view(request, *args, **kwargs)
            except REFUSALS as exc:
                return refused(request, exc)

    def changelist_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with audit_via("admin"):  # the actions run from here
            return super().changelist_view(request, *args, **kwargs)

    def run_each(self, request: HttpRequest, queryset: Any, change: Any, done: str) -> None:
        """An action: `change(obj)` for each selected row, each in its own service transaction;
        a refusal is reported and the others go on."""
        count = 0
        for obj in queryset:
            try:
                change(obj)
            except REFUSALS as exc:
                self.message_user(request, f"{obj}：{exc}", messages.ERROR)
            else:
                count += 1
        if count:
            self.message_user(request, done.format(count=count), messages.SUCCESS)
