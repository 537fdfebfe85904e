"""A bulk-analysis request made at the hub for a city's licence types (issue #13 item 4) goes
down to that city in the transaction that makes it and is not decided at the hub; only that
city's decision counts, once: an approval exports from the hub's aggregate within the approved
fields and row cap (a real Celery worker), a refusal exports nothing; a decision for an unknown,
decided or expired request is ignored with a log line."""

import csv
import io
import time
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.utils import timezone

from provincial_hub.celery import app
from shared.access.models import AccessRecord, BulkRequest
from shared.federation.apply import HANDLERS
from shared.federation.ingest import _apply_one
from shared.federation.keys import export_public, peer_register
from shared.federation.models import OutboxEvent, RejectedEvent
from tests.shared.access.conftest import issue
from tests.support import make_agency, make_type, make_user, token_client

ZZ, LY = "410100", "410300"


@pytest.fixture
def zz_peer(db):
    key = export_public()
    return peer_register(code=ZZ, kid=key["kid"], public_key_pem=key["public_key_pem"])


@pytest.fixture
def hub_consumer(db):
    agency = make_agency(
        "河南省政务服务中心", body="00009002", area="410000", level="province", is_consumer=True
    )
    return token_client(make_user("hub_zwzx_1", agency))


def application(license_type, **overrides):
    today = timezone.localdate()
    body = {
        "type_codes": [license_type.type_code],
        "fields": ["identifier", "holder_name", "surface.经营项目"],
        "period_from": (today - timedelta(days=30)).isoformat(),
        "period_to": today.isoformat(),
        "matter_code": "M0001",
        "purpose": "全省食品经营主体分布统计分析",
        "row_cap": 3,
    }
    body.update(overrides)
    return body


def decision(request_id, *, approve=True, days=3, **overrides):
    body = {
        "id": str(request_id),
        "approve": approve,
        "approved_fields": ["identifier", "surface.经营项目"] if approve else [],
        "expires_at": (timezone.now() + timedelta(days=days)).isoformat() if approve else None,
        "reason": "" if approve else "用途不明确",
        "decided_at": timezone.now().isoformat(),
        "decided_by": "郑州市市场监督管理局经办人",
        "issuer_code": "",
    }
    body.update(overrides)
    return {"schema": 1, "decision": body}


def deliver(sender, payload, seq=1):
    event = {"seq": seq, "kind": "bulk.decision", "key": payload["decision"]["id"]}
    return _apply_one(sender, {**event, "payload": payload})


def state(pk):
    row = BulkRequest.objects.get(pk=pk)
    return (row.state, row.approved_fields, row.decided_by_name, row.attempts, row.file_path)


def made(client, license_type):
    response = client.post("/api/v1/bulk-requests/", application(license_type), format="json")
    assert response.status_code == 201, response.json()
    return response.json()


@pytest.mark.django_db
def test_a_request_for_a_citys_types_goes_down_and_is_not_decided_here(
    hub_consumer, zz_peer, issuer, license_type
):
    body = made(hub_consumer, license_type)
    assert (body["state"], body["decider_library"]) == ("pending", ZZ)
    [event] = OutboxEvent.objects.filter(kind="bulk.request")
    assert (event.stream, event.key) == (ZZ, body["id"])
    snap = event.payload["request"]
    assert (snap["type_codes"], snap["fields"], snap["row_cap"]) == (
        [license_type.type_code],
        ["identifier", "holder_name", "surface.经营项目"],
        3,
    )
    assert snap["requester"]["agency_name"] == "河南省政务服务中心"
    # the hub holds the city's agency, but its decision is the city's
    refused = issuer.post(f"/api/v1/bulk-requests/{body['id']}/approve/", {}, format="json")
    assert (refused.status_code, refused.json()["code"]) == (409, "bulk.decided_elsewhere")
    assert BulkRequest.objects.get(pk=body["id"]).state == "pending"


@pytest.mark.django_db
def test_a_city_without_a_node_cannot_receive_a_request(hub_consumer, license_type):
    response = hub_consumer.post("/api/v1/bulk-requests/", application(license_type), format="json")
    assert (response.status_code, response.json()["code"]) == (400, "bulk.issuer_unreachable")
    assert "尚未接入" in response.json()["message"]
    assert not BulkRequest.objects.exists()
    assert not OutboxEvent.objects.filter(kind="bulk.request").exists()


@pytest.mark.django_db
def test_a_provincial_issuers_request_is_decided_here(hub_consumer, zz_peer):
    provincial = make_agency(
        "河南省交通运输厅", body="00009001", area="410000", level="province", is_issuer=True
    )
    staff = make_user("prov_staff", provincial)
    hub_type = make_type(staff, seq=5, requires_review=False)
    body = made(hub_consumer, hub_type)
    assert body["decider_library"] == ""
    assert not OutboxEvent.objects.filter(kind="bulk.request").exists()
    decided = token_client(staff).post(
        f"/api/v1/bulk-requests/{body['id']}/refuse/", {"reason": "不予批准"}, format="json"
    )
    assert decided.json()["state"] == "refused"


@pytest.mark.django_db
def test_only_the_deciding_city_decides(hub_consumer, zz_peer, license_type, caplog):
    pk = made(hub_consumer, license_type)["id"]
    before = state(pk)
    error = deliver(LY, decision(pk))
    assert error["code"] == "federation.not_owner"
    assert RejectedEvent.objects.get(sender=LY).kind == "bulk.decision"
    assert state(pk) == before
    assert "federation.not_owner sender=410300 record=bulk_request" in caplog.text
    # fields it was not asked for are dead-lettered, nothing changes
    more = decision(pk, approved_fields=["identifier", "holder_code"])
    assert deliver(ZZ, more)["code"] == "bulk.field_not_requested"
    assert state(pk) == before


@pytest.mark.django_db
def test_unknown_decided_or_expired_decisions_are_ignored(
    hub_consumer, zz_peer, license_type, caplog
):
    unknown = decision("5e3c0b1a-0000-4000-8000-000000000001")
    assert HANDLERS["bulk.decision"](unknown, sender=ZZ) is None
    assert "bulk.decision_ignored reason=unknown" in caplog.text
    pk = made(hub_consumer, license_type)["id"]
    late = decision(pk, expires_at=(timezone.now() - timedelta(minutes=1)).isoformat())
    assert deliver(ZZ, late) is None
    assert state(pk)[0] == "pending"
    assert "bulk.decision_ignored reason=expired" in caplog.text
    # a refusal, then a late approval (a redelivery or a second decision): the refusal stands
    assert deliver(ZZ, decision(pk, approve=False), seq=2) is None
    assert deliver(ZZ, decision(pk), seq=3) is None
    assert state(pk) == ("refused", [], "郑州市市场监督管理局经办人（410100）", 0, "")
    assert "bulk.decision_ignored reason=state:refused" in caplog.text
    assert not RejectedEvent.objects.exists()
    # the refusal is on record and nothing can be downloaded
    download = hub_consumer.get(f"/api/v1/bulk-requests/{pk}/download/")
    assert (download.status_code, download.json()["code"]) == (409, "bulk.not_ready")
    body = hub_consumer.get(f"/api/v1/bulk-requests/{pk}/").json()
    assert (body["decision_reason"], body["decided_by"]) == (
        "用途不明确",
        "郑州市市场监督管理局经办人（410100）",
    )


@pytest.fixture
def celery_worker():
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("default")
    with start_worker(app, perform_ping_check=False, pool="solo", queues=["default"]) as worker:
        yield worker


@pytest.mark.django_db(transaction=True)
def test_the_citys_approval_exports_here_within_scope(
    celery_worker, hub_consumer, zz_peer, issuer_user, license_type
):
    for i in range(5):
        issue(issuer_user, license_type, number=f"JY{i}", holder_body=f"MA3X7Y{i}L")
    pk = made(hub_consumer, license_type)["id"]
    assert deliver(ZZ, decision(pk)) is None
    deadline = time.monotonic() + 30
    while BulkRequest.objects.get(pk=pk).state != "ready" and time.monotonic() < deadline:
        time.sleep(0.2)
    row = BulkRequest.objects.get(pk=pk)
    assert (row.state, row.rows_done, row.approved_fields) == (
        "ready",
        3,
        ["identifier", "surface.经营项目"],
    )
    download = hub_consumer.get(f"/api/v1/bulk-requests/{pk}/download/")
    assert download.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(download.streaming_content).decode("utf-8-sig"))))
    assert rows[0] == ["identifier", "surface.经营项目"] and len(rows) == 4
    operations = list(AccessRecord.objects.values_list("operation", "outcome"))
    assert ("bulk_decision", "allowed") in operations
    assert operations.count(("export", "allowed")) == 3
