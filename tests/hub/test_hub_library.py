"""The hub is a library too: provincial issuers issue and manage licences there."""

import pytest

from shared.licenses.models import License

pytestmark = pytest.mark.django_db


def test_hub_identity(client):
    assert client.get("/healthz").json() == {"status": "ok", "tier": "hub"}
    ready = client.get("/readyz").json()
    assert (ready["library_code"], ready["library_name"]) == ("410000", "河南省电子证照库")


def test_provincial_issuer_issues_and_suspends_at_the_hub(issuer, issue_payload):
    created = issuer.post("/api/v1/licenses/", issue_payload(), format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["library_code"] == "410000"
    ident = body["identifier"]
    suspended = issuer.post(f"/api/v1/licenses/{ident}/suspend/", {"reason": "暂扣"}, format="json")
    assert suspended.status_code == 200
    assert License.objects.get().status == "suspended"


def test_seed_demo_twice_gives_the_same_credentials(tmp_path):
    from django.core.management import call_command

    first, second = tmp_path / "a.json", tmp_path / "b.json"
    call_command("seed_demo", credentials=str(first))
    call_command("seed_demo", credentials=str(second))
    assert first.read_text() == second.read_text()
    import json

    doc = json.loads(first.read_text())
    assert set(doc) >= {"issuer", "consumer", "admin"}
    assert doc["consumer"]["grants"][0]["type_code"] == doc["issuer"]["type_codes"][0]
    # + the annual inspection demo's (#12) + the expiry reminder demo's (#14)
    assert License.objects.count() == 15 + 3 + 1
