"""`audit_record`: one row in the caller's transaction, append-only, never a secret."""

import json

import pytest
from django.db import DatabaseError, connection, transaction
from django.test import Client

from shared.access.portal import holder_create
from shared.accounts import services as accounts
from shared.audit.context import audit_via
from shared.audit.models import AuditEntry
from shared.audit.services import audit_record
from shared.core.errors import ConflictError
from tests.shared.audit.conftest import rows
from tests.support import make_citizen_id, make_uscc

pytestmark = pytest.mark.django_db


def test_a_rolled_back_change_leaves_no_audit_row(library_admin):
    # given
    before = AuditEntry.objects.count()
    # when: the change and its row are written, then the caller's transaction fails
    with pytest.raises(RuntimeError), transaction.atomic():
        accounts.agency_create(
            actor=library_admin,
            code=make_uscc(dept="11", area="410100", body="00009001"),
            name="郑州市审计局",
            area_code="410100",
        )
        assert len(rows("agency.create", target_type="agency")) == 1
        raise RuntimeError("the caller gives up")
    # then
    assert AuditEntry.objects.count() == before
    assert rows("agency.create") == []


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_nothing_is_written():
    with pytest.raises(RuntimeError, match="inside the transaction"):
        audit_record(
            actor=None, action="x.y", target_type="x", target_id="1", before=None, after=None
        )
    assert AuditEntry.objects.count() == 0


def test_the_row_says_who_what_when_and_where(issuer_user):
    # when
    with transaction.atomic():
        entry = audit_record(
            actor=issuer_user,
            action="demo.change",
            target_type="demo",
            target_id="7",
            before={"a": 1, "b": 2},
            after={"a": 1, "b": 3},
            detail={"note": "x"},
        )
    # then
    entry.refresh_from_db()
    assert entry.actor == issuer_user
    assert entry.username == "issuer_1"
    assert entry.agency_code == issuer_user.agency.code
    assert entry.library_code == "410100"
    assert entry.detail == {"note": "x", "changed": ["b"]}
    assert entry.occurred_at is not None


def test_rows_are_append_only(library_admin):
    with transaction.atomic():
        entry = audit_record(
            actor=library_admin, action="x.y", target_type="x", target_id="1", before=None, after={}
        )
    with pytest.raises(ConflictError):
        entry.save()
    with pytest.raises(ConflictError):
        entry.delete()
    # PostgreSQL refuses a bulk update or delete too (the trigger of migration 0002)
    assert connection.vendor == "postgresql"
    for attempt in (
        lambda: AuditEntry.objects.filter(pk=entry.pk).update(action="forged"),
        lambda: AuditEntry.objects.filter(pk=entry.pk).delete(),
    ):
        with pytest.raises(DatabaseError), transaction.atomic():
            attempt()
    entry.refresh_from_db()
    assert entry.action == "x.y"


def test_secrets_never_reach_a_row(issuer_user, library_admin):
    # given: a token secret, a password, a holder code
    token, secret = accounts.token_issue(actor=issuer_user, user=issuer_user, name="脚本")
    accounts.user_create(
        actor=library_admin,
        agency=issuer_user.agency,
        username="new_one",
        password="Very-Secret-Pass-1",
    )
    code = make_citizen_id(area="410102", birth="19900307", seq="123")
    holder, _ = holder_create(
        username="holder_x",
        password="Holder-12345",
        display_name="张伟",
        holder_code=code,
        holder_code_type="111",
    )
    # when
    text = json.dumps([[r.before, r.after, r.detail] for r in AuditEntry.objects.all()])
    # then
    assert secret not in text and token.digest not in text
    assert "Very-Secret-Pass-1" not in text and '"password"' not in text
    assert code not in text and holder.holder_code_digest not in text
    issued = rows("token.issue", target_id=str(token.pk))[0]
    assert issued.after["prefix"] == token.prefix and "digest" not in issued.after
    assert rows("user.create", target_id=str(holder.pk))[0].detail == {"holder": True}


def test_a_command_and_the_admin_say_so_and_a_request_has_its_id(admin, library_admin):
    with audit_via("command"), transaction.atomic():
        entry = audit_record(
            actor=None, action="x.y", target_type="x", target_id="1", before=None, after=None
        )
    assert entry.detail == {"via": "command"} and entry.actor is None and entry.username == ""
    # a request gets an id, answered in X-Request-ID and written on its audit rows
    response = admin.post(
        "/api/v1/agencies/",
        {
            "code": make_uscc(dept="11", area="410100", body="00009002"),
            "name": "郑州市统计局",
            "area_code": "410100",
        },
        format="json",
        HTTP_X_REQUEST_ID="req-42",
    )
    assert response.status_code == 201
    assert response["X-Request-ID"] == "req-42"
    assert rows("agency.create", target_id=response.json()["code"])[0].request_id == "req-42"
    # an id that is not plain is replaced, not written as given
    odd = Client().get("/healthz", HTTP_X_REQUEST_ID="=cmd|' /C calc'!A0")
    assert odd["X-Request-ID"] != "=cmd|' /C calc'!A0" and len(odd["X-Request-ID"]) == 32
