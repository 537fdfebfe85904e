"""The Django admin goes through the services: an edit there obeys the same rules, writes the
same outbox row and one audit row ("via": "admin"); what no service covers is read-only."""

import pytest

from shared.access.models import Grant
from shared.accounts import services as accounts
from shared.accounts.models import Agency, ApiToken, User
from shared.audit.models import AuditEntry
from shared.calendars.models import WorkdayOverride
from shared.catalog.models import LicenseType
from shared.federation.models import OutboxEvent
from tests.shared.audit.conftest import admin_form, rows
from tests.support import make_type, make_uscc

pytestmark = pytest.mark.django_db


def new_rows(since):
    return list(AuditEntry.objects.filter(id__gt=since).order_by("id"))


def last_id():
    return AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0


def test_a_type_edited_in_the_admin_reaches_the_outbox_and_is_audited_once(
    console, root, license_type
):
    # given: a published type; the hub has heard of it once
    outbox = OutboxEvent.objects.filter(kind="catalog.type", key=license_type.type_code)
    assert outbox.count() == 1
    mark = last_id()
    data = admin_form(LicenseType, license_type, root) | {"description": "后台修改的说明"}
    # when
    response = console.post(f"/admin/catalog/licensetype/{license_type.pk}/change/", data)
    # then
    assert response.status_code == 302, response.content[:2000]
    assert LicenseType.objects.get().description == "后台修改的说明"
    assert outbox.count() == 2
    assert outbox.order_by("-seq").first().payload["type"]["description"] == "后台修改的说明"
    [entry] = new_rows(mark)
    assert (entry.action, entry.actor, entry.target_id) == (
        "catalog.type.update",
        root,
        license_type.type_code,
    )
    assert entry.detail == {"via": "admin", "changed": ["description"]}


def test_the_admin_keeps_the_publish_rules(console, root, license_type):
    # given
    mark, sent = last_id(), OutboxEvent.objects.count()
    data = admin_form(LicenseType, license_type, root) | {"name": "改名", "description": "x"}
    # when: the name of a published type is frozen
    response = console.post(f"/admin/catalog/licensetype/{license_type.pk}/change/", data)
    # then: refused with the service's message, nothing changed, nothing sent, nothing audited
    assert response.status_code == 302
    page = console.get(response["Location"]).content.decode()
    assert "证照类型发布后只能修改" in page
    stored = LicenseType.objects.get()
    assert (stored.name, stored.description) == ("食品经营许可证", "")
    assert OutboxEvent.objects.count() == sent and new_rows(mark) == []
    # no adding or deleting entries here
    assert console.get("/admin/catalog/licensetype/add/").status_code == 403
    assert console.get(f"/admin/catalog/licensetype/{license_type.pk}/delete/").status_code == 403


def test_publishing_from_the_admin_is_the_service(console, issuer_user):
    draft = make_type(issuer_user, seq=5, requires_review=False, publish=False)
    mark = last_id()
    response = console.post(
        "/admin/catalog/licensetype/", {"action": "publish", "_selected_action": [draft.pk]}
    )
    assert response.status_code == 302
    assert LicenseType.objects.get(pk=draft.pk).state == "published"
    assert OutboxEvent.objects.filter(kind="catalog.type", key=draft.type_code).count() == 1
    assert [e.action for e in new_rows(mark)] == ["catalog.type.publish"]


def test_agencies_through_the_admin(console, root):
    code = make_uscc(dept="11", area="410100", body="00009201")
    data = {"code": code, "name": "郑州市水利局", "kind": "department", "level": "city"}
    data |= {"area_code": "410100", "is_issuer": "on"}
    mark = last_id()
    assert console.post("/admin/accounts/agency/add/", data).status_code == 302
    agency = Agency.objects.get(code=code)
    assert [(e.action, e.target_id, e.detail) for e in new_rows(mark)] == [
        ("agency.create", code, {"via": "admin"})
    ]
    mark = last_id()
    data = admin_form(Agency, agency, root)
    data.pop("active")  # unticked: deactivate
    assert console.post(f"/admin/accounts/agency/{agency.pk}/change/", data).status_code == 302
    assert Agency.objects.get(pk=agency.pk).active is False
    [entry] = new_rows(mark)
    assert entry.action == "agency.update" and entry.detail["changed"] == ["active"]
    assert console.get(f"/admin/accounts/agency/{agency.pk}/delete/").status_code == 403


def test_users_roles_and_passwords_through_the_admin(console, root, issuer_agency):
    mark = last_id()
    data = {"username": "clerk", "agency": issuer_agency.pk, "role": "staff"}
    data |= {"display_name": "新人", "usable_password": "true"}
    data |= {"password1": "Clerk-Pass-12345", "password2": "Clerk-Pass-12345"}
    assert console.post("/admin/accounts/user/add/", data).status_code == 302
    clerk = User.objects.get(username="clerk")
    assert clerk.check_password("Clerk-Pass-12345")
    assert [e.action for e in new_rows(mark)] == ["user.create"]
    # a role change is one "user.update" row naming the field
    mark = last_id()
    data = admin_form(User, clerk, root) | {"role": "agency_admin"}
    assert console.post(f"/admin/accounts/user/{clerk.pk}/change/", data).status_code == 302
    assert User.objects.get(pk=clerk.pk).role == "agency_admin"
    [entry] = new_rows(mark)
    assert entry.action == "user.update" and entry.detail["changed"] == ["role"]
    assert (entry.before["role"], entry.after["role"]) == ("staff", "agency_admin")
    # a password set by the administrator: audited, without the password or its hash
    mark = last_id()
    body = {"password1": "Other-Pass-67890", "password2": "Other-Pass-67890"}
    body |= {"usable_password": "true"}
    response = console.post(f"/admin/accounts/user/{clerk.pk}/password/", body)
    assert response.status_code == 302
    clerk.refresh_from_db()
    assert clerk.check_password("Other-Pass-67890")
    [entry] = new_rows(mark)
    assert (entry.action, entry.actor, entry.before, entry.after) == (
        "user.password",
        root,
        None,
        None,
    )
    assert entry.detail == {"username": "clerk", "usable": True, "via": "admin"}
    assert console.get(f"/admin/accounts/user/{clerk.pk}/delete/").status_code == 403


def test_a_refused_user_change_in_the_admin_changes_nothing(console, root, issuer_user):
    mark = last_id()
    # a staff member must belong to an agency
    data = admin_form(User, issuer_user, root) | {"agency": ""}
    response = console.post(f"/admin/accounts/user/{issuer_user.pk}/change/", data)
    assert response.status_code == 302
    assert "必须属于某个单位" in console.get(response["Location"]).content.decode()
    assert User.objects.get(pk=issuer_user.pk).agency_id == issuer_user.agency_id
    assert new_rows(mark) == []


def test_grants_and_tokens_through_the_admin(console, consumer_agency, license_type, issuer_user):
    mark = last_id()
    data = {"agency": consumer_agency.pk, "license_type": license_type.pk}
    data |= {"matter_code": "M0001", "valid_from": "2026-01-01"}
    assert console.post("/admin/access/grant/add/", data).status_code == 302
    grant = Grant.objects.get()
    assert grant.granted_by.username == "root"
    console.post("/admin/access/grant/", {"action": "revoke", "_selected_action": [grant.pk]})
    assert Grant.objects.get().revoked_at is not None
    assert [e.action for e in new_rows(mark)] == ["grant.create", "grant.revoke"]
    # tokens: revoked here by the service; issued only through the API (the secret shows once)
    token, _ = accounts.token_issue(actor=None, user=issuer_user, name="脚本")
    mark = last_id()
    console.post("/admin/accounts/apitoken/", {"action": "revoke", "_selected_action": [token.pk]})
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    assert [e.action for e in new_rows(mark)] == ["token.revoke"]
    assert console.get("/admin/accounts/apitoken/add/").status_code == 403


def test_calendar_overrides_through_the_admin(console):
    mark = last_id()
    data = {"day": "2026-02-14", "is_workday": "on", "note": "春节调休上班"}
    assert console.post("/admin/calendars/workdayoverride/add/", data).status_code == 302
    row = WorkdayOverride.objects.get()
    url = f"/admin/calendars/workdayoverride/{row.pk}/delete/"
    assert console.post(url, {"post": "yes"}).status_code == 302
    assert not WorkdayOverride.objects.exists()
    assert [(e.action, e.target_id) for e in new_rows(mark)] == [
        ("calendar.override.set", "2026-02-14"),
        ("calendar.override.delete", "2026-02-14"),
    ]


def test_the_audit_itself_is_read_only_in_the_admin(console, library_admin):
    entry = rows()[0]
    assert console.get(f"/admin/audit/auditentry/{entry.pk}/change/").status_code == 200
    assert console.post(f"/admin/audit/auditentry/{entry.pk}/change/", {}).status_code == 403
    assert console.get(f"/admin/audit/auditentry/{entry.pk}/delete/").status_code == 403
    assert console.get("/admin/audit/auditentry/add/").status_code == 403
