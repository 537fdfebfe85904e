"""The node's outbox: written in the transaction of each change, gap-free, visible, retryable."""

import pytest

from shared.federation.models import OutboxEvent
from shared.licenses.models import License

pytestmark = pytest.mark.django_db


def rows():
    return list(OutboxEvent.objects.order_by("seq").values_list("seq", "kind", "state"))


def test_every_released_change_writes_one_event_in_order(issuer, issue_payload, license_type):
    published = rows()
    assert [kind for _, kind, _ in published] == ["catalog.type"]  # the publication, not the draft
    ident = issuer.post("/api/v1/licenses/", issue_payload(), format="json").json()["identifier"]
    issuer.post(f"/api/v1/licenses/{ident}/suspend/", {"reason": "暂扣"}, format="json")
    events = rows()
    assert [seq for seq, _, _ in events] == list(range(1, len(events) + 1))
    assert [kind for _, kind, _ in events[-2:]] == ["license.event", "license.event"]
    last = OutboxEvent.objects.order_by("-seq").first()
    assert last.stream == "410000"
    assert last.payload["license"]["status"] == "suspended"
    assert last.payload["event"]["action"] == "suspend"


def test_a_refused_change_writes_nothing(issuer, issue_payload):
    ident = issuer.post("/api/v1/licenses/", issue_payload(), format="json").json()["identifier"]
    before = rows()
    issuer.post(f"/api/v1/licenses/{ident}/resume/", {"reason": "x"}, format="json")
    assert rows() == before


def test_review_drafts_stay_home_until_approved(issuer, reviewer, issue_payload, review_type):
    before = len(rows())
    ident = issuer.post(
        "/api/v1/licenses/", issue_payload(type_code=review_type.type_code), format="json"
    ).json()["identifier"]
    assert len(rows()) == before
    reviewer.post(f"/api/v1/licenses/{ident}/approve/", {}, format="json")
    last = OutboxEvent.objects.order_by("-seq").first()
    assert last.kind == "license.repair"
    assert [e["action"] for e in last.payload["events"]] == ["issue", "approve"]
    assert License.objects.get().status == "valid"


def test_operator_sees_and_retries_failed_deliveries(admin, issuer, issue_payload):
    issuer.post("/api/v1/licenses/", issue_payload(), format="json")
    OutboxEvent.objects.update(
        state="dead", attempts=20, last_error="exchange.unreachable: 拒绝连接"
    )
    listed = admin.get("/api/v1/federation/outbox/?state=dead").json()
    assert listed["count"] == OutboxEvent.objects.count()
    assert listed["results"][0]["last_error"].startswith("exchange.unreachable")
    retried = admin.post("/api/v1/federation/outbox/retry/", {"stream": "410000"}, format="json")
    assert retried.json()["retried"] == OutboxEvent.objects.count()
    assert set(OutboxEvent.objects.values_list("state", "attempts")) == {("pending", 0)}
    summary = admin.get("/api/v1/federation/streams/").json()
    assert summary[0]["stream"] == "410000" and summary[0]["dead"] == 0


def test_staff_cannot_use_the_delivery_console(issuer):
    assert issuer.get("/api/v1/federation/outbox/").status_code == 403
    assert issuer.post("/api/v1/federation/outbox/retry/", {}, format="json").status_code == 403


def test_exchange_endpoints_refuse_unsigned_calls(client):
    response = client.post(
        "/api/v1/federation/envelopes/", {"body": {}}, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "exchange.malformed"
    status = client.get("/api/v1/federation/status?node=410000")
    assert status.status_code == 401
    assert status.json()["code"] == "exchange.auth_required"
