"""The hub's demo: a supervisor in the credentials (the DESIGN §8 keys kept), one notice already
escalated so the public page is not empty, one open for a 郑州 agency going down to 郑州; both
seeding steps safe to run twice."""

import json

import pytest
from django.core.management import call_command

from provincial_hub.compliance.models import RectificationNotice
from shared.accounts.models import ApiToken, User
from shared.federation.models import OutboxEvent
from tests.hub.compliance.conftest import ZZ

pytestmark = pytest.mark.django_db


def test_the_hub_demo_seeds_a_supervisor_and_two_notices(tmp_path, zz_agency, zz_peer, anon):
    hub = tmp_path / "hub.json"
    call_command("seed_demo", credentials=str(hub))
    doc = json.loads(hub.read_text(encoding="utf-8"))
    assert {"issuer", "consumer", "admin"} <= set(doc)
    supervisor = User.objects.get(username=doc["supervisor"]["username"])
    assert (supervisor.role, supervisor.agency_id) == ("supervisor", None)
    assert ApiToken.objects.filter(digest=ApiToken.digest_of(doc["supervisor"]["token"])).exists()
    # the city's credentials name the agency the open notice is for
    city = tmp_path / "410100.json"
    city.write_text(json.dumps({"issuer": {"agency_code": zz_agency.code}}), encoding="utf-8")
    for _ in range(2):
        call_command("compliance", "demo", "--credentials", str(city), "--wait", "1")
    notices = RectificationNotice.objects.order_by("issued_at")
    assert [(n.state, n.agency.level, n.issued_by_id) for n in notices] == [
        ("escalated", "province", supervisor.pk),
        ("issued", "city", supervisor.pk),
    ]
    assert notices[1].agency == zz_agency
    assert OutboxEvent.objects.filter(stream=ZZ, kind="compliance.notice").count() == 1
    assert len(anon.get("/api/v1/public/criticism/").json()["results"]) == 1
    assert "河南省" in anon.get("/public/criticism/").content.decode()
    # seeding again changes nothing and writes the same credentials
    again = tmp_path / "again.json"
    call_command("seed_demo", credentials=str(again))
    assert again.read_text(encoding="utf-8") == hub.read_text(encoding="utf-8")
