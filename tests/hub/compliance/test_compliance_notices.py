"""Rectification notices at the hub: issued by hand, answered (at the hub by a provincial
agency, from a city through its node), accepted or reopened, escalated to public criticism by the
clock; every step a row, out of order refused with 409 and nothing changed."""

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
import time_machine

from provincial_hub.compliance import services
from provincial_hub.compliance.federation import apply_answer
from provincial_hub.compliance.models import NoticeStep, RectificationNotice
from shared.domain.notices import StepKind
from shared.federation.apply import HANDLERS
from shared.federation.ingest import _apply_one
from shared.federation.models import OutboxEvent, RejectedEvent
from shared.federation.ownership import NotOwnerError
from tests.hub.compliance.conftest import LY, ZZ
from tests.support import token_client

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=SHANGHAI)


def state_of(notice):
    """Everything a refused step must leave as it was."""
    notice.refresh_from_db()
    return (
        notice.state,
        notice.revision,
        notice.answered_at,
        notice.closed_at,
        notice.escalated_at,
        list(notice.steps.values_list("seq", "kind")),
        OutboxEvent.objects.count(),
    )


def answer_from(city, notice, text="已完成整改：补报逾期证照并建立每日核对机制"):
    payload = {
        "schema": 1,
        "answer": {
            "notice_id": str(notice.pk),
            "text": text,
            "actor_name": "郑州经办人（c410100_scj_1）",
            "at": "2026-05-06T10:00:00+08:00",
            "based_on_revision": notice.revision,
        },
    }
    return HANDLERS["compliance.answer"](payload, sender=city)


@pytest.fixture
def notice(supervisor_user, zz_agency, zz_peer):
    return services.notice_issue(
        actor=supervisor_user,
        rule="aggregation.late",
        agency=zz_agency,
        summary="近 30 天超时汇聚 6 张",
        findings={"late": 6},
    )


# --- issue -----------------------------------------------------------------------------------


def test_a_supervisor_issues_a_notice_by_hand_and_it_goes_down_to_the_city(
    supervisor, zz_agency, zz_peer
):
    body = {
        "rule": "manual",
        "agency_code": zz_agency.code,
        "summary": "证照目录中 3 个类型的关联事项与办事指南不一致",
        "findings": {"types": 3},
    }
    response = supervisor.post("/api/v1/compliance/notices/", body, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["rule"], data["agency_code"], data["city_code"], data["state"]) == (
        "manual",
        zz_agency.code,
        ZZ,
        "issued",
    )
    assert (data["automatic"], data["issued_by"], data["allowed_steps"]) == (
        False,
        "supervisor",
        ["answer", "escalate"],
    )
    assert [(s["kind"], s["actor_name"]) for s in data["steps"]] == [
        ("issue", "supervisor（supervisor）")
    ]
    sent = OutboxEvent.objects.get(stream=ZZ)
    assert (sent.kind, sent.key) == ("compliance.notice", data["id"])
    assert sent.payload["notice"]["agency"]["code"] == zz_agency.code
    assert sent.payload["notice"]["revision"] == 1


def test_a_notice_for_a_city_not_registered_or_a_provincial_agency_stays_at_the_hub(
    supervisor_user, ly_agency, provincial_agency
):
    services.notice_issue(actor=supervisor_user, rule="manual", agency=ly_agency, summary="甲")
    services.notice_issue(
        actor=supervisor_user, rule="manual", agency=provincial_agency, summary="乙"
    )
    assert RectificationNotice.objects.filter(city_code=LY).count() == 1
    assert RectificationNotice.objects.filter(city_code="410000").count() == 1
    assert not OutboxEvent.objects.exists()


@pytest.mark.parametrize("who", ["admin", "issuer", "anon"])
def test_only_the_supervisor_issues(who, admin, issuer, anon, zz_agency):
    client = {"admin": admin, "issuer": issuer, "anon": anon}[who]
    body = {"agency_code": zz_agency.code, "summary": "问题"}
    response = client.post("/api/v1/compliance/notices/", body, format="json")
    assert response.status_code == (401 if who == "anon" else 403)
    assert set(response.json()) == {"code", "message", "detail"}
    assert not RectificationNotice.objects.exists()


def test_a_notice_names_an_agency_or_a_city(supervisor, zz_agency):
    missing = supervisor.post("/api/v1/compliance/notices/", {"summary": "无对象"}, format="json")
    assert (missing.status_code, missing.json()["code"]) == (400, "compliance.subject_required")
    unknown = supervisor.post(
        "/api/v1/compliance/notices/",
        {"agency_code": "91410100MA0000000X", "summary": "无此单位"},
        format="json",
    )
    assert (unknown.status_code, unknown.json()["code"]) == (404, "agency.not_found")
    mismatch = supervisor.post(
        "/api/v1/compliance/notices/",
        {"agency_code": zz_agency.code, "city_code": LY, "summary": "市不符"},
        format="json",
    )
    assert (mismatch.status_code, mismatch.json()["code"]) == (400, "compliance.city_mismatch")
    city = supervisor.post(
        "/api/v1/compliance/notices/", {"city_code": ZZ, "summary": "节点积压"}, format="json"
    )
    assert city.status_code == 201
    assert (city.json()["agency_code"], city.json()["subject_name"]) == (None, "郑州市电子证照库")
    assert RectificationNotice.objects.count() == 1


# --- answer, accept, reopen -------------------------------------------------------------------


def test_the_citys_answer_is_a_step_and_the_new_state_goes_back_down(notice):
    answer_from(ZZ, notice)
    notice.refresh_from_db()
    assert (notice.state, notice.revision) == ("answered", 2)
    step = notice.steps.get(seq=2)
    assert (step.kind, step.actor_id, step.library_code) == ("answer", None, ZZ)
    assert step.actor_name == "郑州经办人（c410100_scj_1）（410100）"
    down = OutboxEvent.objects.filter(stream=ZZ).order_by("seq").last()
    assert (down.payload["notice"]["state"], down.payload["notice"]["revision"]) == (
        "answered",
        2,
    )


def test_an_answer_from_another_city_is_refused_and_changes_nothing(notice):
    before = state_of(notice)
    with pytest.raises(NotOwnerError) as refused:
        answer_from(LY, notice)
    assert refused.value.code == "federation.not_owner"
    assert state_of(notice) == before
    # through the ingest: dead-lettered, the stream moves on
    event = {
        "seq": 1,
        "kind": "compliance.answer",
        "key": str(notice.pk),
        "payload": {"answer": {"notice_id": str(notice.pk), "text": "伪造", "actor_name": "x"}},
    }
    assert _apply_one(LY, event)["code"] == "federation.not_owner"
    assert RejectedEvent.objects.get(sender=LY).error_code == "federation.not_owner"
    assert state_of(notice) == before


def test_an_answer_out_of_order_is_refused_with_409_and_changes_nothing(notice):
    answer_from(ZZ, notice)
    before = state_of(notice)
    with pytest.raises(services.ConflictError) as refused:
        apply_answer(
            {"answer": {"notice_id": str(notice.pk), "text": "再答", "actor_name": "x"}},
            sender=ZZ,
        )
    assert refused.value.code == "notice.illegal_transition"
    assert state_of(notice) == before


def test_the_supervisor_reopens_then_accepts(notice, supervisor):
    url = f"/api/v1/compliance/notices/{notice.pk}"
    answer_from(ZZ, notice)
    reopened = supervisor.post(f"{url}/reopen/", {"reason": "未说明核对机制"}, format="json")
    assert reopened.status_code == 200, reopened.content
    assert reopened.json()["state"] == "reopened"
    answer_from(ZZ, notice, text="补充：每日 17 时核对汇聚回执")
    accepted = supervisor.post(f"{url}/accept/", {"reason": "整改到位"}, format="json")
    assert accepted.status_code == 200
    body = accepted.json()
    assert (body["state"], body["revision"], body["allowed_steps"]) == ("accepted", 5, [])
    assert body["closed_at"] is not None
    assert [(s["seq"], s["kind"]) for s in body["steps"]] == [
        (1, "issue"),
        (2, "answer"),
        (3, "reopen"),
        (4, "answer"),
        (5, "accept"),
    ]
    assert body["steps"][4]["text"] == "整改到位"
    # every change went down to 郑州, in order
    sent = OutboxEvent.objects.filter(stream=ZZ).order_by("seq")
    assert [e.payload["notice"]["state"] for e in sent] == [
        "issued",
        "answered",
        "reopened",
        "answered",
        "accepted",
    ]


@pytest.mark.parametrize("step", ["accept", "reopen"])
def test_accepting_or_reopening_an_unanswered_notice_is_409_and_changes_nothing(
    notice, supervisor, step
):
    before = state_of(notice)
    response = supervisor.post(
        f"/api/v1/compliance/notices/{notice.pk}/{step}/", {"reason": "理由"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "notice.illegal_transition"
    assert state_of(notice) == before


def test_a_decision_needs_the_supervisor_and_a_reason(notice, admin, supervisor):
    answer_from(ZZ, notice)
    before = state_of(notice)
    url = f"/api/v1/compliance/notices/{notice.pk}/accept/"
    refused = admin.post(url, {"reason": "同意"}, format="json")
    assert (refused.status_code, refused.json()["code"]) == (
        403,
        "compliance.supervisor_required",
    )
    blank = supervisor.post(url, {"reason": "  "}, format="json")
    assert blank.status_code == 400
    assert state_of(notice) == before


def test_a_provincial_agency_answers_at_the_hub(supervisor_user, provincial_staff, issuer):
    notice = services.notice_issue(
        actor=supervisor_user,
        rule="catalog.stale",
        agency=provincial_staff.agency,
        summary="目录超过一年未维护",
    )
    client = token_client(provincial_staff)
    listed = client.get("/api/v1/compliance/notices/")
    assert [n["id"] for n in listed.json()["results"]] == [str(notice.pk)]
    answered = client.post(
        f"/api/v1/compliance/notices/{notice.pk}/answer/",
        {"text": "已修订目录并发布"},
        format="json",
    )
    assert answered.status_code == 200
    assert answered.json()["state"] == "answered"
    step = NoticeStep.objects.get(notice=notice, kind="answer")
    assert (step.actor, step.library_code) == (provincial_staff, "410000")
    # another agency's staff see nothing and cannot answer
    other = issuer.post(
        f"/api/v1/compliance/notices/{notice.pk}/answer/", {"text": "冒答"}, format="json"
    )
    assert other.status_code == 404
    assert issuer.get("/api/v1/compliance/notices/").json()["results"] == []


def test_readers_and_filters(notice, supervisor, admin, holder_code, anon):
    for client in (supervisor, admin):
        body = client.get("/api/v1/compliance/notices/?state=issued&rule=aggregation.late").json()
        assert [n["id"] for n in body["results"]] == [str(notice.pk)]
        assert client.get("/api/v1/compliance/notices/?state=accepted").json()["results"] == []
        assert client.get(f"/api/v1/compliance/notices/{notice.pk}/").status_code == 200
    assert anon.get("/api/v1/compliance/notices/").status_code == 401


# --- escalation ------------------------------------------------------------------------------


def test_a_notice_not_answered_by_its_deadline_escalates_to_public_criticism(
    supervisor_user, zz_agency, zz_peer, anon, settings
):
    settings.COMPLIANCE_NOTICE_DEADLINE_DAYS = 5
    # given: a notice issued on Wednesday 2026-09-30, before National Day (1–7 October 2026 are
    # holidays; Saturday 10 October is a make-up working day)
    with time_machine.travel(at(date(2026, 9, 30))):
        notice = services.notice_issue(
            actor=supervisor_user, rule="manual", agency=zz_agency, summary="目录未维护"
        )
    # 5 working days: 8, 9, 10 (Saturday, make-up), 12, 13 October
    assert notice.deadline == date(2026, 10, 13)
    # on the deadline day nothing happens
    with time_machine.travel(at(date(2026, 10, 13), 23)):
        assert services.notice_escalate_due() == 0
    # the day after, the beat escalates it, once
    with time_machine.travel(at(date(2026, 10, 14), 1), tick=False):
        assert services.notice_escalate_due() == 1
        assert services.notice_escalate_due() == 0
    notice.refresh_from_db()
    assert notice.state == "escalated"
    assert notice.escalated_at == at(date(2026, 10, 14), 1)
    step = notice.steps.get(kind="escalate")
    assert (step.actor_id, step.text) == (
        None,
        "整改期限 2026-10-13 已过，未答复整改情况，予以通报批评",
    )
    assert OutboxEvent.objects.filter(stream=ZZ).count() == 2
    # the public list shows it, without the findings
    page = anon.get("/public/criticism/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "郑州市市场监督管理局" in html and "2026-10-14" in html and "未整改" in html
    rows = anon.get("/api/v1/public/criticism/").json()["results"]
    assert rows == [
        {
            "id": str(notice.pk),
            "subject_name": "郑州市市场监督管理局",
            "city": "郑州市",
            "rule": "manual",
            "rule_label": "监管人员发现的其他问题",
            "summary": "目录未维护",
            "issued_on": "2026-09-30",
            "deadline": "2026-10-13",
            "escalated_on": "2026-10-14",
            "rectified": False,
        }
    ]
    # answered and accepted later: still on the list, as rectified
    answer_from(ZZ, notice)
    services.notice_decide(
        actor=supervisor_user, notice_id=notice.pk, kind=StepKind.accept, reason="已整改"
    )
    assert anon.get("/api/v1/public/criticism/").json()["results"][0]["rectified"] is True


def test_an_answered_notice_is_not_escalated(notice, anon):
    answer_from(ZZ, notice)
    with time_machine.travel(at(notice.deadline.replace(year=notice.deadline.year + 1))):
        assert services.notice_escalate_due() == 0
    notice.refresh_from_db()
    assert notice.state == "answered"
    assert anon.get("/api/v1/public/criticism/").json()["results"] == []
    page = anon.get("/public/criticism/").content.decode()
    assert "目前没有被通报批评的单位" in page


def test_the_escalate_command(notice):
    from django.core.management import call_command

    RectificationNotice.objects.filter(pk=notice.pk).update(deadline=date(2026, 1, 5))
    call_command("compliance", "escalate", "--date", "2026-01-06")
    notice.refresh_from_db()
    assert notice.state == "escalated"


def test_every_step_by_a_person_is_audited_once(supervisor, zz_agency, zz_peer):
    from shared.audit.models import AuditEntry

    # given: a notice issued by hand, answered by the city (no person here), then reopened
    created = supervisor.post(
        "/api/v1/compliance/notices/",
        {"agency_code": zz_agency.code, "summary": "目录未维护"},
        format="json",
    ).json()
    notice = RectificationNotice.objects.get(pk=created["id"])
    answer_from(ZZ, notice)
    supervisor.post(
        f"/api/v1/compliance/notices/{notice.pk}/reopen/", {"reason": "不充分"}, format="json"
    )
    # then: the supervisor's two steps, each once, with before and after
    rows = list(
        AuditEntry.objects.filter(target_type="compliance.notice").order_by("occurred_at", "id")
    )
    assert [(r.action, r.username, r.target_id) for r in rows] == [
        ("compliance.notice_issue", "supervisor", str(notice.pk)),
        ("compliance.notice_reopen", "supervisor", str(notice.pk)),
    ]
    assert rows[0].before is None
    assert (rows[1].before["state"], rows[1].after["state"]) == ("answered", "reopened")
    assert rows[1].detail["reason"] == "不充分"
    # and the supervisor reads the audit trail
    listed = supervisor.get("/api/v1/audit/?target_type=compliance.notice")
    assert listed.status_code == 200


def test_findings_are_an_object_of_bounded_size(supervisor, zz_agency):
    body = {"agency_code": zz_agency.code, "summary": "问题", "findings": {"x": "很" * 20_001}}
    response = supervisor.post("/api/v1/compliance/notices/", body, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "validation_error")
    listed = supervisor.post(
        "/api/v1/compliance/notices/", {**body, "findings": ["不是对象"]}, format="json"
    )
    assert listed.status_code == 400
    assert not RectificationNotice.objects.exists()


def test_invisible_characters_are_refused_in_what_the_public_page_shows(supervisor, zz_agency):
    body = {"agency_code": zz_agency.code, "summary": "目录\u202e未维护"}
    response = supervisor.post("/api/v1/compliance/notices/", body, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "text.invalid_character")
    assert not RectificationNotice.objects.exists()
