"""A city's copy of the hub's rectification notices: applied only from the hub and only about
this city's agencies, the highest revision kept; read by the agency's staff (the node's
administrator reads all) and answered here, the answer going up to the hub in the same
transaction; out of order 409 and nothing changed."""

import uuid

import pytest

from municipal_node.notices.models import Notice, NoticeAnswer
from shared.federation.apply import HANDLERS
from shared.federation.ingest import _apply_one
from shared.federation.models import OutboxEvent, RejectedEvent
from shared.federation.ownership import NotOwnerError
from tests.support import make_agency, make_user, token_client

pytestmark = pytest.mark.django_db
HUB = "410000"
NOTICE_ID = "6f1c0a52-3b7e-4d8f-9a51-2c4d6e8f0a13"


def snapshot(agency, *, revision=1, state="issued", city="410100", steps=None, **extra):
    return {
        "schema": 1,
        "notice": {
            "id": NOTICE_ID,
            "rule": "aggregation.late",
            "rule_label": "证照数据汇聚不及时",
            "agency": (
                {"code": agency.code, "name": agency.name, "area_code": agency.area_code}
                if agency is not None
                else None
            ),
            "city_code": city,
            "period": "2026-05",
            "summary": "近 30 天汇聚的 40 张证照中有 6 张超过汇聚时限（15%）",
            "findings": {"late": 6, "arrivals": 40},
            "issued_at": "2026-05-06T01:30:00+08:00",
            "deadline": "2026-05-20",
            "deadline_provisional": False,
            "state": state,
            "state_label": "已下发，待整改",
            "answered_at": None,
            "closed_at": None,
            "escalated_at": None,
            "revision": revision,
            "steps": steps
            or [
                {
                    "seq": 1,
                    "kind": "issue",
                    "actor_name": "省级库每日合规考核（系统）",
                    "library_code": HUB,
                    "text": "近 30 天汇聚的 40 张证照中有 6 张超过汇聚时限（15%）",
                    "at": "2026-05-06T01:30:00+08:00",
                }
            ],
            **extra,
        },
    }


def apply(payload, sender=HUB):
    return HANDLERS["compliance.notice"](payload, sender=sender)


def held():
    notice = Notice.objects.filter(pk=NOTICE_ID).first()
    if notice is None:
        return None
    return (notice.state, notice.revision, notice.steps, notice.answered_at)


def test_the_hubs_notice_is_applied_and_an_older_state_never_undoes_a_newer(issuer_agency):
    apply(snapshot(issuer_agency, revision=3, state="reopened"))
    apply(snapshot(issuer_agency, revision=2, state="answered"))  # late, older
    apply(snapshot(issuer_agency, revision=3, state="answered"))  # a duplicate revision
    notice = Notice.objects.get(pk=NOTICE_ID)
    assert (notice.state, notice.revision, notice.agency) == ("reopened", 3, issuer_agency)
    assert (notice.deadline.isoformat(), notice.findings) == (
        "2026-05-20",
        {"late": 6, "arrivals": 40},
    )


@pytest.mark.parametrize(
    ("sender", "city", "agency_area"),
    [
        ("410300", "410100", "410100"),  # another city forges the hub's notice
        (HUB, "410300", "410100"),  # the hub, about another city
        (HUB, "410100", "410300"),  # the hub, naming another city's agency
    ],
)
def test_a_notice_not_from_the_hub_or_not_about_this_city_is_refused(sender, city, agency_area):
    agency = make_agency("市场监督管理局", body="00001001", area=agency_area, is_issuer=True)
    with pytest.raises(NotOwnerError) as refused:
        apply(snapshot(agency, city=city), sender=sender)
    assert refused.value.code == "federation.not_owner"
    assert held() is None
    # through the ingest: dead-lettered, nothing applied
    event = {"seq": 1, "kind": "compliance.notice", "key": NOTICE_ID}
    error = _apply_one(sender, {**event, "payload": snapshot(agency, city=city)})
    assert error["code"] == "federation.not_owner"
    assert RejectedEvent.objects.get(sender=sender).kind == "compliance.notice"
    assert held() is None


def test_a_notice_for_an_agency_this_city_does_not_hold_is_refused():
    stranger = make_agency("某局", body="00001009", is_issuer=True)
    payload = snapshot(stranger)
    stranger.delete()
    event = {"seq": 1, "kind": "compliance.notice", "key": NOTICE_ID, "payload": payload}
    assert _apply_one(HUB, event)["code"] == "notices.agency_unknown"
    bad = snapshot(None)  # about the node itself, with an id that is no UUID
    bad["notice"]["id"] = "not-a-uuid"
    assert _apply_one(HUB, {**event, "seq": 2, "payload": bad})["code"] == (
        "federation.payload_invalid"
    )
    assert not Notice.objects.exists()


def test_the_agencys_staff_read_and_answer_and_the_answer_goes_up(
    issuer_agency, issuer_user, issuer, other_issuer, admin
):
    apply(snapshot(issuer_agency))
    listed = issuer.get("/api/v1/compliance/notices/").json()["results"]
    assert [(n["id"], n["state"], n["allowed_steps"]) for n in listed] == [
        (NOTICE_ID, "issued", ["answer"])
    ]
    assert other_issuer.get("/api/v1/compliance/notices/").json()["results"] == []
    assert [n["id"] for n in admin.get("/api/v1/compliance/notices/").json()["results"]] == [
        NOTICE_ID
    ]
    # another agency cannot answer it: it does not exist for them
    url = f"/api/v1/compliance/notices/{NOTICE_ID}/answer/"
    assert other_issuer.post(url, {"text": "冒答"}, format="json").status_code == 404
    # when the agency answers
    response = issuer.post(url, {"text": "已排查超时原因，补报 6 张证照"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["state"], body["revision"], body["allowed_steps"]) == ("answered", 1, [])
    assert body["steps"][-1]["pending"] is True
    # then the answer is a row and one outbox event up to the hub
    answer = NoticeAnswer.objects.get()
    assert (answer.actor, answer.text, answer.based_on_revision) == (
        issuer_user,
        "已排查超时原因，补报 6 张证照",
        1,
    )
    up = OutboxEvent.objects.get()
    assert (up.stream, up.kind, up.key) == (HUB, "compliance.answer", NOTICE_ID)
    assert up.payload["answer"] == {
        "notice_id": NOTICE_ID,
        "text": "已排查超时原因，补报 6 张证照",
        "actor_name": "issuer_1（issuer_1）",
        "at": answer.at.isoformat(),
        "based_on_revision": 1,
    }
    # the hub's next state replaces the copy
    apply(snapshot(issuer_agency, revision=2, state="answered"))
    assert Notice.objects.get().steps[-1].get("pending") is None


def test_an_answer_out_of_order_is_409_and_changes_nothing(issuer_agency, issuer):
    apply(snapshot(issuer_agency, revision=5, state="accepted"))
    before = held()
    response = issuer.post(
        f"/api/v1/compliance/notices/{NOTICE_ID}/answer/", {"text": "再答"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "notice.illegal_transition"
    assert held() == before
    assert not OutboxEvent.objects.exists()
    assert not NoticeAnswer.objects.exists()


def test_a_notice_about_the_node_is_answered_by_its_administrator(admin, issuer, issuer_agency):
    apply(snapshot(None))
    url = f"/api/v1/compliance/notices/{NOTICE_ID}/answer/"
    assert issuer.post(url, {"text": "不是本单位的"}, format="json").status_code == 404
    response = admin.post(url, {"text": "已扩容上行队列"}, format="json")
    assert response.status_code == 200
    assert response.json()["subject_name"] == "郑州市电子证照库"
    assert OutboxEvent.objects.get().kind == "compliance.answer"


def test_who_reads_and_an_unknown_notice(issuer, anon, issuer_agency):
    assert anon.get("/api/v1/compliance/notices/").status_code == 401
    missing = issuer.get(f"/api/v1/compliance/notices/{uuid.uuid4()}/")
    assert (missing.status_code, missing.json()["code"]) == (404, "compliance.notice_not_found")
    nobody = token_client(make_user("nobody_admin", None, role="library_admin"))
    assert nobody.get("/api/v1/compliance/notices/").status_code == 200
