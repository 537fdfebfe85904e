"""Issuing and the licence lifecycle over API v1, on a real PostgreSQL."""

from datetime import timedelta

import pytest
from django.utils import timezone

from shared.licenses.models import License, LicenseEvent, LicenseVersion
from tests.support import make_citizen_id

pytestmark = pytest.mark.django_db
VALID_ID = make_citizen_id(area="410102", birth="19850312", seq="123")


def snapshot():
    return (
        License.objects.count(),
        LicenseVersion.objects.count(),
        LicenseEvent.objects.count(),
        list(License.objects.order_by("pk").values_list("status", "version", "pledged")),
    )


def issue(client, payload):
    response = client.post("/api/v1/licenses/", payload, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def act(client, identifier, action, **body):
    return client.post(f"/api/v1/licenses/{identifier}/{action}/", body, format="json")


def test_issue_assigns_identifier_and_is_readable(issuer, issue_payload, issuer_agency):
    # given / when
    body = issue(issuer, issue_payload())
    # then
    assert body["version"] == 1
    assert body["status"] == "valid"
    assert body["status_label"] == "有效"
    ident = body["identifier"]
    assert ident.startswith(f"1.2.156.3005.2.{issue_payload()['type_code']}.{issuer_agency.code}.")
    assert ident.split(".")[-2] == "001"
    read = issuer.get(f"/api/v1/licenses/{ident}/")
    assert read.status_code == 200
    assert read.json()["holder"]["code_type"] == "001"
    events = issuer.get(f"/api/v1/licenses/{ident}/events/").json()
    assert [(e["seq"], e["action"], e["to_status"]) for e in events] == [(1, "issue", "valid")]
    versions = issuer.get(f"/api/v1/licenses/{ident}/versions/").json()
    assert [(v["version"], v["identifier"], v["current"]) for v in versions] == [(1, ident, True)]
    assert len(body["content_digest"]) == 64


def test_serials_increase_per_issuer_and_type(issuer, issue_payload):
    first = issue(issuer, issue_payload())["identifier"].split(".")
    second = issue(issuer, issue_payload(number="JY2"))["identifier"].split(".")
    assert int(second[-3]) == int(first[-3]) + 1


def test_every_action_in_a_lifecycle(issuer, issue_payload):
    ident = issue(issuer, issue_payload())["identifier"]
    steps = [
        ("suspend", {"reason": "涉嫌违法经营，暂扣"}, "suspended", 1),
        ("resume", {"reason": "整改完成"}, "valid", 1),
        ("pledge", {"pledgee": "中原银行郑州分行", "until": "2030-01-01"}, "valid", 1),
        ("release", {"reason": "贷款结清"}, "valid", 1),
        ("amend", {"surface": {"经营者名称": "郑州豫中食品股份有限公司"}}, "valid", 2),
        (
            "renew",
            {"valid_to": (timezone.localdate() + timedelta(days=1500)).isoformat()},
            "valid",
            3,
        ),
        ("revoke", {"reason": "严重违法，吊销"}, "revoked", 3),
    ]
    for action, body, status, version in steps:
        response = act(issuer, ident, action, **body)
        assert response.status_code == 200, (action, response.json())
        lic = response.json()["license"]
        assert (lic["status"], lic["version"]) == (status, version), action
        assert response.json()["event"]["action"] == action
    events = issuer.get(f"/api/v1/licenses/{ident}/events/").json()
    assert [e["seq"] for e in events] == list(range(1, 9))
    versions = issuer.get(f"/api/v1/licenses/{ident}/versions/").json()
    assert [v["version"] for v in versions] == [1, 2, 3]
    assert versions[1]["previous_identifier"] == versions[0]["identifier"]
    assert versions[2]["identifier"].split(".")[-2] == "003"
    # the old identifier still names the licence, now in its current state
    assert issuer.get(f"/api/v1/licenses/{ident}/").json()["status"] == "revoked"


@pytest.mark.parametrize(
    "action,body",
    [("annul", {"reason": "以欺骗手段取得"}), ("cancel", {"reason": "申请注销"})],
)
def test_annul_and_cancel_are_final(issuer, issue_payload, action, body):
    ident = issue(issuer, issue_payload())["identifier"]
    assert act(issuer, ident, action, **body).status_code == 200
    before = snapshot()
    response = act(issuer, ident, "resume", reason="x")
    assert response.status_code == 409
    assert response.json()["code"] == "license.illegal_transition"
    assert snapshot() == before


def test_illegal_transition_is_409_and_changes_nothing(issuer, issue_payload):
    ident = issue(issuer, issue_payload())["identifier"]
    before = snapshot()
    response = act(issuer, ident, "resume", reason="无")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "license.illegal_transition"
    assert "有效" in body["message"]
    assert snapshot() == before


def test_reason_required_for_suspend(issuer, issue_payload):
    ident = issue(issuer, issue_payload())["identifier"]
    before = snapshot()
    response = act(issuer, ident, "suspend")
    assert response.status_code == 400
    assert response.json()["code"] == "action.reason_required"
    assert snapshot() == before


def test_pledged_licence_cannot_be_cancelled(issuer, issue_payload):
    ident = issue(issuer, issue_payload())["identifier"]
    assert act(issuer, ident, "pledge", pledgee="中原银行", until="2031-01-01").status_code == 200
    before = snapshot()
    response = act(issuer, ident, "cancel", reason="申请注销")
    assert response.status_code == 409
    assert response.json()["code"] == "license.pledge_state"
    assert snapshot() == before


def test_wrong_issuer_cannot_see_or_act(issuer, other_issuer, issue_payload):
    ident = issue(issuer, issue_payload())["identifier"]
    before = snapshot()
    assert other_issuer.get(f"/api/v1/licenses/{ident}/").status_code == 404
    response = act(other_issuer, ident, "revoke", reason="越权")
    assert response.status_code == 404
    assert response.json()["code"] == "license.not_found"
    assert other_issuer.get("/api/v1/licenses/").json()["count"] == 0
    assert snapshot() == before


def test_wrong_issuer_cannot_issue_on_anothers_type(other_issuer, issue_payload):
    before = snapshot()
    response = other_issuer.post("/api/v1/licenses/", issue_payload(), format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "catalog.not_type_issuer"
    assert snapshot() == before


def test_consumer_cannot_issue_or_list(consumer, issue_payload):
    before = snapshot()
    response = consumer.post("/api/v1/licenses/", issue_payload(), format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "license.not_issuer"
    assert consumer.get("/api/v1/licenses/").json()["count"] == 0
    assert snapshot() == before


def test_anonymous_is_401(anon):
    response = anon.get("/api/v1/licenses/")
    assert response.status_code == 401
    assert response.json()["code"] == "auth.required"


def test_unpublished_type_cannot_be_issued(issuer, issuer_user, issue_payload):
    from tests.support import make_type

    draft = make_type(issuer_user, seq=9, requires_review=False, publish=False)
    before = snapshot()
    response = issuer.post(
        "/api/v1/licenses/", issue_payload(type_code=draft.type_code), format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "catalog.type_not_published"
    assert snapshot() == before


@pytest.mark.parametrize(
    "holder,code",
    [
        ({"name": "张三", "code": VALID_ID, "code_type": "111"}, "holder.category"),
        (
            {"name": "某公司", "code": "91350100M000100Y44", "code_type": "001"},
            "uscc.checksum",
        ),
        ({"name": "某公司", "code": "91350100M000100Y4", "code_type": "001"}, "uscc.length"),
        ({"name": "某公司", "code": "X", "code_type": "999"}, "holder.code_type"),
    ],
)
def test_invalid_holder_code(issuer, issue_payload, holder, code):
    before = snapshot()
    response = issuer.post("/api/v1/licenses/", issue_payload(holder=holder), format="json")
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert response.json()["message"]
    assert snapshot() == before


def test_invalid_citizen_id_on_person_type(issuer, issuer_user, issue_payload, person_id):
    from tests.support import make_type

    person_type = make_type(issuer_user, seq=7, requires_review=False, holder_category="person")
    bad = person_id[:-1] + ("0" if person_id[-1] != "0" else "1")
    before = snapshot()
    response = issuer.post(
        "/api/v1/licenses/",
        issue_payload(
            type_code=person_type.type_code,
            holder={"name": "张伟", "code": bad, "code_type": "111"},
        ),
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "citizen_id.checksum"
    assert snapshot() == before
    ok = issuer.post(
        "/api/v1/licenses/",
        issue_payload(
            type_code=person_type.type_code,
            holder={"name": "张伟", "code": person_id.lower(), "code_type": "111"},
        ),
        format="json",
    )
    assert ok.status_code == 201


@pytest.mark.parametrize(
    "surface,field",
    [
        ({}, "经营者名称"),
        ({"经营者名称": 12}, "经营者名称"),
        ({"经营者名称": "甲", "未定义字段": "x"}, ""),
        ({"经营者名称": "甲", "从业人数": -1}, "从业人数"),
    ],
)
def test_surface_must_match_schema(issuer, issue_payload, surface, field):
    before = snapshot()
    response = issuer.post("/api/v1/licenses/", issue_payload(surface=surface), format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "surface.invalid"
    assert body["message"].startswith("照面信息不符合")
    assert body["detail"]["errors"]
    if field:
        assert field in body["message"]
    assert snapshot() == before


def test_field_errors_name_the_field(issuer, issue_payload):
    before = snapshot()
    response = issuer.post(
        "/api/v1/licenses/", issue_payload(valid_from="2026-13-01"), format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert "valid_from" in body["message"]
    assert "valid_from" in body["detail"]
    assert snapshot() == before


def test_validity_rules(issuer, issue_payload):
    today = timezone.localdate()
    before = snapshot()
    too_long = issuer.post(
        "/api/v1/licenses/",
        issue_payload(valid_to=(today + timedelta(days=4000)).isoformat()),
        format="json",
    )
    assert too_long.status_code == 400
    assert too_long.json()["code"] == "validity.too_long"
    long_term = issuer.post("/api/v1/licenses/", issue_payload(valid_to=None), format="json")
    assert long_term.status_code == 400
    assert long_term.json()["code"] == "validity.long_term_not_allowed"
    backwards = issuer.post(
        "/api/v1/licenses/",
        issue_payload(valid_to=(today - timedelta(days=1)).isoformat()),
        format="json",
    )
    assert backwards.json()["code"] == "validity.range"
    assert snapshot() == before


def test_malformed_json_is_400(issuer):
    response = issuer.post("/api/v1/licenses/", data=b"{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "request.malformed"


def test_unknown_action_is_404(issuer, issue_payload):
    ident = issue(issuer, issue_payload())["identifier"]
    response = act(issuer, ident, "explode", reason="x")
    assert response.status_code == 404
    assert response.json()["code"] == "license.action_unknown"


def test_expected_version_conflict(issuer, issue_payload):
    ident = issue(issuer, issue_payload())["identifier"]
    before = snapshot()
    response = act(issuer, ident, "suspend", reason="x", expected_version=2)
    assert response.status_code == 409
    assert response.json()["code"] == "license.version_conflict"
    assert snapshot() == before


def test_offline_issue_gets_a_working_day_deadline(issuer, issue_payload):
    # case completed on Friday 2026-01-09: one working day later is Monday 2026-01-12
    body = issue(
        issuer, issue_payload(mode="offline", case_completed_at="2026-01-09T10:00:00+08:00")
    )
    assert body["sync_deadline"] == "2026-01-12"
    assert body["sync_deadline_provisional"] is False
    bulk = issue(issuer, issue_payload(mode="bulk", case_completed_at="2026-01-09T10:00:00+08:00"))
    assert bulk["sync_deadline"] == "2026-01-16"


def test_case_completed_in_future_is_refused(issuer, issue_payload):
    future = (timezone.now() + timedelta(days=1)).isoformat()
    response = issuer.post(
        "/api/v1/licenses/", issue_payload(case_completed_at=future), format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "license.case_completed_in_future"
