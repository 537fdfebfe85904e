"""A bulk-analysis request made at the hub for this city's licence types (issue #13 item 4):
applied only from the hub and only for this city's types, held once however often delivered,
shown to the issuer (console and API) like a local one and decided with the same service; the
decision goes up to the hub in the same transaction and the export is not run here."""

from datetime import timedelta

import pytest
from django.utils import timezone

from shared.access.bulk import bulk_export_run, bulk_request_create
from shared.access.models import BulkRequest
from shared.core.errors import PermanentError
from shared.federation.apply import HANDLERS
from shared.federation.ingest import _apply_one
from shared.federation.models import OutboxEvent, RejectedEvent
from shared.federation.ownership import NotOwnerError
from tests.console_support import console_client
from tests.support import make_agency, make_type, make_user

pytestmark = pytest.mark.django_db
HUB, LY = "410000", "410300"
REQUEST_ID = "3b0f6d2e-8c41-4a7e-9f3d-5a6b7c8d9e01"
PURPOSE = "全省食品经营主体分布统计分析"


def request_payload(license_type, **overrides):
    today = timezone.localdate()
    snap = {
        "id": REQUEST_ID,
        "type_codes": [license_type.type_code],
        "issuer_code": license_type.issuer.code,
        "fields": ["identifier", "holder_name", "surface.经营项目"],
        "period_from": (today - timedelta(days=30)).isoformat(),
        "period_to": today.isoformat(),
        "matter_code": "M0001",
        "purpose": PURPOSE,
        "row_cap": 50,
        "format": "csv",
        "created_at": timezone.now().isoformat(),
        "requester": {
            "agency_code": "11410000MB0000001X",
            "agency_name": "河南省政务服务中心",
            "username": "hub_zwzx_1",
            "display_name": "省政务服务中心经办人",
        },
    }
    snap.update(overrides)
    return {"schema": 1, "request": snap}


def deliver(sender, payload, seq=1):
    return _apply_one(
        sender, {"seq": seq, "kind": "bulk.request", "key": REQUEST_ID, "payload": payload}
    )


def decisions():
    return list(
        OutboxEvent.objects.filter(kind="bulk.decision").values_list("stream", "key", "payload")
    )


def test_the_handler_is_registered():
    assert HANDLERS["bulk.request"].__module__ == "municipal_node.uplink.bulk"


def test_a_hub_request_appears_to_the_issuer_once_and_its_approval_goes_up(
    issuer, issuer_user, license_type, consumer
):
    # given the hub's request, delivered twice
    assert deliver(HUB, request_payload(license_type)) is None
    assert deliver(HUB, request_payload(license_type), seq=2) is None
    held = BulkRequest.objects.get()
    assert (str(held.pk), held.origin_library, held.agency, held.requested_by) == (
        REQUEST_ID,
        HUB,
        None,
        None,
    )
    assert held.issuer_id == license_type.issuer_id
    # then the issuer sees it in the API and the console, with the hub's applicant
    listed = issuer.get("/api/v1/bulk-requests/").json()["results"]
    assert [(r["id"], r["state"], r["origin_library"]) for r in listed] == [
        (REQUEST_ID, "pending", HUB)
    ]
    assert listed[0]["applicant_name"] == "河南省政务服务中心（410000）"
    assert (listed[0]["requested_by"], listed[0]["agency_code"]) == ("hub_zwzx_1", None)
    html = console_client(issuer_user).get("/console/bulk-requests/").content.decode()
    assert "河南省政务服务中心（410000）" in html and PURPOSE in html
    # a consumer of this city does not see it
    assert consumer.get("/api/v1/bulk-requests/").json()["results"] == []
    # when the issuer approves fewer fields
    approved = issuer.post(
        f"/api/v1/bulk-requests/{REQUEST_ID}/approve/",
        {"fields": ["identifier", "surface.经营项目"], "expires_in_days": 3},
        format="json",
    )
    assert approved.status_code == 200, approved.json()
    assert approved.json()["decided_by"] == "issuer_1"
    # then the decision goes up to the hub, in the decision's transaction
    [(stream, key, payload)] = decisions()
    assert (stream, key) == (HUB, REQUEST_ID)
    decision = payload["decision"]
    assert (decision["approve"], decision["approved_fields"], decision["reason"]) == (
        True,
        ["identifier", "surface.经营项目"],
        "",
    )
    held.refresh_from_db()
    assert decision["expires_at"] == held.expires_at.isoformat()
    # and the export is the hub's: nothing is written here
    assert bulk_export_run(bulk_request_id=REQUEST_ID).state == "approved"
    held.refresh_from_db()
    assert (held.attempts, held.file_path) == (0, "")


def test_a_refusal_goes_up_with_its_reason(issuer_user, license_type):
    deliver(HUB, request_payload(license_type))
    client = console_client(issuer_user)
    posted = client.post(f"/console/bulk-requests/{REQUEST_ID}/refuse/", {"reason": "用途不明确"})
    assert posted.status_code == 302
    [(_, _, payload)] = decisions()
    assert (payload["decision"]["approve"], payload["decision"]["reason"]) == (False, "用途不明确")
    assert BulkRequest.objects.get().state == "refused"


@pytest.mark.parametrize("sender", [LY, "410100"])
def test_only_the_hub_sends_requests(sender, license_type):
    error = deliver(sender, request_payload(license_type))
    assert error["code"] == "federation.not_owner"
    assert RejectedEvent.objects.get(sender=sender).kind == "bulk.request"
    assert not BulkRequest.objects.exists()


def test_only_for_this_citys_types(issuer_user):
    # a type whose issuer belongs to 洛阳 (held here, say, from an old mirror)
    foreign = make_agency("洛阳市市场监督管理局", body="00003001", area="410300", is_issuer=True)
    foreign_type = make_type(make_user("ly_1", foreign), seq=7, requires_review=False)
    with pytest.raises(NotOwnerError):
        HANDLERS["bulk.request"](request_payload(foreign_type), sender=HUB)
    unknown = request_payload(foreign_type, type_codes=["11100000000000000X999"])
    assert deliver(HUB, unknown)["code"] == "bulk.type_unknown"
    assert not BulkRequest.objects.exists()


def test_a_malformed_request_changes_nothing(license_type):
    bad_fields = request_payload(license_type, fields=["surface.不存在"])
    assert deliver(HUB, bad_fields)["code"] == "bulk.field_unknown"
    bad_id = request_payload(license_type, id="not-a-uuid")
    assert deliver(HUB, bad_id, seq=2)["code"] == "federation.payload_invalid"
    with pytest.raises(PermanentError):
        HANDLERS["bulk.request"](request_payload(license_type, row_cap=0), sender=HUB)
    assert not BulkRequest.objects.exists()


def test_a_duplicate_id_from_elsewhere_is_refused(consumer_user, license_type):
    today = timezone.localdate()
    local = bulk_request_create(
        actor=consumer_user,
        type_codes=[license_type.type_code],
        fields=["identifier"],
        period_from=today,
        period_to=today,
        matter_code="M0001",
        purpose="本市统计",
        row_cap=5,
    )
    with pytest.raises(NotOwnerError):
        HANDLERS["bulk.request"](request_payload(license_type, id=str(local.pk)), sender=HUB)
    assert BulkRequest.objects.get().origin_library == ""


def test_a_local_request_for_a_provincial_type_is_refused(consumer, caplog):
    provincial = make_agency("河南省市场监督管理局", body="00004001", area="410000", is_issuer=True)
    hub_type = make_type(make_user("prov_1", provincial), seq=8, requires_review=False)
    today = timezone.localdate()
    response = consumer.post(
        "/api/v1/bulk-requests/",
        {
            "type_codes": [hub_type.type_code],
            "fields": ["identifier"],
            "period_from": today.isoformat(),
            "period_to": today.isoformat(),
            "matter_code": "M0001",
            "purpose": "本市统计",
            "row_cap": 5,
        },
        format="json",
    )
    assert (response.status_code, response.json()["code"]) == (400, "bulk.issuer_elsewhere")
    assert not BulkRequest.objects.exists()
    assert not OutboxEvent.objects.filter(kind__startswith="bulk.").exists()
