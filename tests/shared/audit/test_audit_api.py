"""`/api/v1/audit/` and its CSV export: library administrators and the supervisor read them,
nobody else; filtered, paged, newest first, Beijing time, no spreadsheet formulas."""

import csv
import io
from datetime import timedelta

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone

from shared.audit.models import AuditEntry
from shared.audit.services import audit_record

pytestmark = pytest.mark.django_db


def write(actor, action, target_type="demo", target_id="1", after=None):
    with transaction.atomic():
        return audit_record(
            actor=actor,
            action=action,
            target_type=target_type,
            target_id=target_id,
            before=None,
            after=after,
        )


def ids(client, **query):
    response = client.get("/api/v1/audit/", query)
    assert response.status_code == 200, response.json()
    return [row["id"] for row in response.json()["results"]]


@pytest.mark.parametrize("reader", ["admin", "supervisor"])
def test_readers_list_newest_first_and_filter(request, reader, library_admin, issuer_user):
    client = request.getfixturevalue(reader)
    start = timezone.now()
    with time_machine.travel(start + timedelta(days=1), tick=False):
        first = write(library_admin, "agency.update", "agency", "A1")
    with time_machine.travel(start + timedelta(days=2), tick=False):
        second = write(issuer_user, "catalog.type.update", "catalog.type", "T1")
    # newest first, paged
    page = client.get("/api/v1/audit/", {"limit": 2}).json()
    assert [row["id"] for row in page["results"]] == [second.pk, first.pk]
    assert page["count"] == AuditEntry.objects.count() and page["next"]
    # by action, action prefix, target, actor, time
    assert ids(client, action="agency.update") == [first.pk]
    assert ids(client, action_prefix="catalog.") == [second.pk]
    assert ids(client, target_type="catalog.type", target_id="T1") == [second.pk]
    assert ids(client, actor="issuer_1") == [second.pk]
    day = timezone.localtime(start + timedelta(days=2)).date()
    assert ids(client, since=day.isoformat()) == [second.pk]
    until = timezone.localtime(start + timedelta(days=1, hours=1)).isoformat()
    assert ids(client, since=start.isoformat(), until=until) == [first.pk]
    row = client.get("/api/v1/audit/", {"target_id": "T1"}).json()["results"][0]
    assert row["username"] == "issuer_1" and row["agency_code"] == issuer_user.agency.code
    assert row["occurred_at"].endswith("+08:00") and row["library_code"] == "410100"


@pytest.mark.parametrize(
    "query", [{"since": "昨天"}, {"until": "2026-13-01"}, {"since": "99999-01-01T00:00:00"}]
)
def test_a_bad_time_is_400(admin, query):
    response = admin.get("/api/v1/audit/", query)
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


def test_nul_in_a_filter_is_400_not_a_database_error(admin):
    response = admin.get("/api/v1/audit/", {"actor": "a\x00b"})
    assert response.status_code == 400 and response.json()["detail"]["actor"]


@pytest.mark.parametrize("role", ["issuer", "consumer", "agency_admin", "holder"])
def test_everyone_else_is_refused(request, role, agency_admin):
    if role == "agency_admin":
        from tests.support import token_client

        client = token_client(agency_admin)
    elif role == "holder":
        from django.test import Client

        from shared.access.portal import holder_create
        from tests.support import make_citizen_id

        user, _ = holder_create(
            username="holder_1",
            password="Holder-12345",
            display_name="张伟",
            holder_code=make_citizen_id(area="410102", birth="19900307", seq="123"),
            holder_code_type="111",
        )
        client = Client()
        client.force_login(user)
    else:
        client = request.getfixturevalue(role)
    for path in ("/api/v1/audit/", "/api/v1/audit/export.csv"):
        response = client.get(path)
        assert response.status_code == 403, path
        assert response.json()["code"] == "permission.audit_reader_required"


def test_anonymous_is_401(anon):
    for path in ("/api/v1/audit/", "/api/v1/audit/export.csv"):
        assert anon.get(path).status_code == 401


@pytest.mark.parametrize("reader", ["admin", "supervisor"])
def test_export_is_csv_in_beijing_time_without_formulas(request, reader, library_admin):
    client = request.getfixturevalue(reader)
    write(library_admin, "agency.update", "agency", '=HYPERLINK("http://x")', {"name": "@SUM(A1)"})
    write(library_admin, "grant.revoke", "grant", "-2")
    response = client.get("/api/v1/audit/export.csv", {"action": "agency.update"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="audit-410100.csv"' in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    header, *lines = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert header[:5] == ["编号", "时间", "操作人", "操作人单位代码", "操作"]
    assert len(lines) == 1  # filtered like the list
    [line] = lines
    assert line[1].endswith("+08:00")
    assert line[6] == '\'=HYPERLINK("http://x")'
    assert line[8] == '{"name": "@SUM(A1)"}'  # JSON text starts with "{": harmless
    everything = b"".join(client.get("/api/v1/audit/export.csv").streaming_content).decode()
    assert "'-2" in everything
