"""Every administrative service writes exactly one audit row per change (art. 28): through the
API as a named user, through a management command as the system ("via": "command")."""

import json

import pytest
from django.core.management import call_command

from shared.audit.models import AuditEntry
from shared.federation.keys import export_public
from shared.federation.models import OutboxEvent
from shared.files import keystore
from shared.files.models import SigningKey
from tests.shared.audit.conftest import rows
from tests.support import make_type, make_uscc

pytestmark = pytest.mark.django_db


def new_rows(since: int):
    return list(AuditEntry.objects.filter(id__gt=since).order_by("id"))


def last_id() -> int:
    return AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0


def once(since: int, action: str, target_type: str, target_id: str, actor: str):
    """Exactly one new row, for this change, by this actor."""
    [entry] = new_rows(since)
    assert (entry.action, entry.target_type, entry.target_id) == (action, target_type, target_id)
    assert entry.username == actor
    return entry


def test_agencies_and_users_and_roles(admin, library_admin, issuer_agency):
    mark = last_id()
    code = make_uscc(dept="11", area="410100", body="00009101")
    body = {"code": code, "name": "郑州市民政局", "area_code": "410100", "is_consumer": True}
    assert admin.post("/api/v1/agencies/", body, format="json").status_code == 201
    created = once(mark, "agency.create", "agency", code, "admin")
    assert created.before is None and created.after["name"] == "郑州市民政局"

    mark = last_id()
    response = admin.patch(
        f"/api/v1/agencies/{code}/", {"name": "郑州市民政局（新）"}, format="json"
    )
    assert response.status_code == 200
    updated = once(mark, "agency.update", "agency", code, "admin")
    assert updated.detail["changed"] == ["name"]
    assert (updated.before["name"], updated.after["name"]) == ("郑州市民政局", "郑州市民政局（新）")

    mark = last_id()
    url = f"/api/v1/agencies/{issuer_agency.code}/users/"
    user = admin.post(url, {"username": "clerk", "role": "agency_admin"}, format="json").json()
    entry = once(mark, "user.create", "user", str(user["id"]), "admin")
    assert (
        entry.after["role"] == "agency_admin" and entry.after["agency_code"] == issuer_agency.code
    )


def test_tokens_issued_and_revoked(issuer, issuer_user):
    mark = last_id()
    token = issuer.post("/api/v1/tokens/", {"name": "对接脚本"}, format="json").json()
    entry = once(mark, "token.issue", "token", str(token["id"]), "issuer_1")
    assert token["token"] not in json.dumps(entry.after)

    mark = last_id()
    assert issuer.post(f"/api/v1/tokens/{token['id']}/revoke/").status_code == 200
    revoked = once(mark, "token.revoke", "token", str(token["id"]), "issuer_1")
    assert revoked.before["revoked_at"] is None and revoked.after["revoked_at"]
    # revoking it again changes nothing and writes nothing
    mark = last_id()
    assert issuer.post(f"/api/v1/tokens/{token['id']}/revoke/").status_code == 200
    assert new_rows(mark) == []


def test_grants_given_and_revoked(admin, consumer_agency, license_type):
    mark = last_id()
    body = {
        "agency_code": consumer_agency.code,
        "type_code": license_type.type_code,
        "matter_code": "M0001",
    }
    grant = admin.post("/api/v1/grants/", body, format="json").json()
    entry = once(mark, "grant.create", "grant", str(grant["id"]), "admin")
    assert entry.after["agency_code"] == consumer_agency.code

    mark = last_id()
    assert admin.post(f"/api/v1/grants/{grant['id']}/revoke/").status_code == 200
    once(mark, "grant.revoke", "grant", str(grant["id"]), "admin")


def test_catalogue_edits_publish_and_retire(issuer, issuer_user):
    mark = last_id()
    draft = make_type(issuer_user, seq=7, requires_review=False, publish=False)
    once(mark, "catalog.type.create", "catalog.type", draft.type_code, "issuer_1")
    code = draft.type_code
    steps = [
        ("patch", f"/api/v1/catalog/types/{code}/", {"name": "新名称"}, "catalog.type.update"),
        ("post", f"/api/v1/catalog/types/{code}/publish/", {}, "catalog.type.publish"),
        ("post", f"/api/v1/catalog/types/{code}/retire/", {}, "catalog.type.retire"),
    ]
    for method, url, body, action in steps:
        mark = last_id()
        assert getattr(issuer, method)(url, body, format="json").status_code == 200
        entry = once(mark, action, "catalog.type", code, "issuer_1")
    assert entry.before["state"] == "published" and entry.after["state"] == "retired"
    # a refused change writes nothing
    mark = last_id()
    assert issuer.post(f"/api/v1/catalog/types/{code}/publish/").status_code == 409
    assert new_rows(mark) == []


def test_outbox_retries(admin, license_type):
    OutboxEvent.objects.update(state="dead", attempts=20)
    ids = list(OutboxEvent.objects.values_list("pk", flat=True))
    mark = last_id()
    answer = admin.post("/api/v1/federation/outbox/retry/", {"stream": "410000"}, format="json")
    assert answer.json()["retried"] == len(ids) >= 1
    entry = once(mark, "outbox.retry", "federation.outbox", "410000", "admin")
    assert entry.detail == {"stream": "410000", "ids": ids, "count": len(ids)}
    # nothing left to retry: no change, no row
    mark = last_id()
    admin.post("/api/v1/federation/outbox/retry/", {"stream": "410000"}, format="json")
    assert new_rows(mark) == []


def test_calendar_overrides(admin):
    mark = last_id()
    body = {"is_workday": True, "note": "调休上班"}
    assert admin.put("/api/v1/calendar/overrides/2026-10-10/", body, format="json").status_code
    entry = once(mark, "calendar.override.set", "calendar.override", "2026-10-10", "admin")
    assert entry.after == {"day": "2026-10-10", "is_workday": True, "note": "调休上班"}
    mark = last_id()
    assert admin.delete("/api/v1/calendar/overrides/2026-10-10/").status_code == 204
    once(mark, "calendar.override.delete", "calendar.override", "2026-10-10", "admin")


def test_peers_and_exchange_keys_by_command(tmp_path):
    mark = last_id()
    call_command("federation", "keygen")
    [made] = new_rows(mark)
    assert (made.action, made.actor, made.detail) == ("key.create", None, {"via": "command"})
    assert "private_pem" not in made.after
    call_command("federation", "keygen")  # the key exists: no change, no row
    assert len(new_rows(mark)) == 1

    peer_file = tmp_path / "hub.json"
    peer_file.write_text(json.dumps(export_public() | {"code": "410000", "url": ""}))
    mark = last_id()
    call_command("federation", "add-peer", "--file", str(peer_file))
    added = once(mark, "peer.add", "federation.peer", "410000", "")
    assert added.detail == {"via": "command"} and "public_pem" not in added.after
    mark = last_id()
    call_command("federation", "add-peer", "--file", str(peer_file), "--url", "http://hub")
    changed = once(mark, "peer.update", "federation.peer", "410000", "")
    assert changed.detail["changed"] == ["base_url"]


def test_keys_rotated_by_command(settings, tmp_path, issuer_agency):
    settings.FILES_ROOT = str(tmp_path / "files")
    settings.FILES_TSA_URL = ""
    keystore.reset_caches()
    keystore.pki_init()
    # the seals made on first use (a side effect of signing, not audited)
    keystore.sm2_seal_for(agency=None)
    keystore.seal_for(agency=issuer_agency)
    for args, kind, agency in (
        (["rotate-token"], SigningKey.Kind.TOKEN, None),
        (["rotate-seal"], SigningKey.Kind.SEAL, None),
        (["rotate-seal", "--agency", issuer_agency.code], SigningKey.Kind.SEAL, issuer_agency),
        (["rotate-sm2-seal"], SigningKey.Kind.SM2_SEAL, None),
    ):
        mark = last_id()
        call_command("pki", *args)
        new = SigningKey.objects.get(kind=kind, active=True, agency=agency)
        entry = once(mark, "key.rotate", "signing_key", new.key_id, "")
        assert entry.detail["via"] == "command" and entry.detail["kind"] == kind
        assert entry.before["active"] is True and entry.after["key_id"] == new.key_id
        assert "private_key_pem" not in entry.before | entry.after
    keystore.reset_caches()
    assert len(rows("key.rotate")) == 4
