"""The supervisor's compliance screens at the hub: notices filtered and coloured by deadline,
every step shown, a notice issued by hand, accepted or reopened with a reason (the service's
refusal shown), evaluations run now; the aggregation dashboard read-only for the supervisor."""

from datetime import timedelta

import pytest
from django.utils import timezone

from provincial_hub.compliance import services
from provincial_hub.compliance.models import EvaluationRun, RectificationNotice
from tests.console_support import console_client
from tests.hub.compliance.conftest import ZZ

pytestmark = pytest.mark.django_db


@pytest.fixture
def supervisor_console(supervisor_user):
    return console_client(supervisor_user)


def issue(supervisor_user, agency, summary="近 30 天超时汇聚 6 张", rule="aggregation.late"):
    return services.notice_issue(
        actor=supervisor_user, rule=rule, agency=agency, summary=summary, findings={"late": 6}
    )


def answered(notice):
    who = services.Who(actor=None, name="郑州经办人（c410100_scj_1）", library_code=ZZ)
    return services.notice_answer(notice_id=notice.pk, text="已补报逾期证照", who=who)


def test_notices_are_filtered_and_marked_by_deadline(
    supervisor_console, supervisor_user, zz_agency, ly_agency, zz_peer
):
    late = issue(supervisor_user, zz_agency)
    RectificationNotice.objects.filter(pk=late.pk).update(
        deadline=timezone.localdate() - timedelta(days=1)
    )
    near = issue(supervisor_user, ly_agency, rule="manual", summary="目录未维护")
    RectificationNotice.objects.filter(pk=near.pk).update(
        deadline=timezone.localdate() + timedelta(days=2)
    )
    response = supervisor_console.get("/console/hub/compliance/")
    assert response.status_code == 200
    marks = {r["notice"].pk: r["mark"] for r in response.context["rows"]}
    assert marks == {late.pk: "overdue", near.pk: "at-risk"}
    body = response.content.decode()
    assert 'href="/public/criticism/"' in body and "下发整改通知" in body
    # one current link: 整改通知, not also 汇聚总览 (/console/hub/ is a prefix of its path)
    assert body.count('aria-current="page"') == 1
    assert 'href="/console/hub/compliance/" aria-current="page"' in body
    by_rule = supervisor_console.get("/console/hub/compliance/?rule=manual")
    assert [r["notice"].pk for r in by_rule.context["rows"]] == [near.pk]
    by_city = supervisor_console.get(f"/console/hub/compliance/?city={ZZ}&state=issued")
    assert [r["notice"].pk for r in by_city.context["rows"]] == [late.pk]


def test_the_detail_shows_every_step(supervisor_console, supervisor_user, zz_agency, zz_peer):
    notice = answered(issue(supervisor_user, zz_agency))
    response = supervisor_console.get(f"/console/hub/compliance/{notice.pk}/")
    assert response.status_code == 200
    assert [s.kind for s in response.context["steps"]] == ["issue", "answer"]
    body = response.content.decode()
    assert "郑州经办人（c410100_scj_1）" in body and "已补报逾期证照" in body
    assert "验收通过" in body and "退回重新整改" in body
    missing = supervisor_console.get("/console/hub/compliance/not-a-uuid/")
    assert missing.status_code == 404 and "整改通知不存在" in missing.content.decode()


def test_the_supervisor_accepts_and_reopens_with_a_reason(
    supervisor_console, supervisor_user, zz_agency, zz_peer
):
    first = answered(issue(supervisor_user, zz_agency))
    url = f"/console/hub/compliance/{first.pk}/"
    refused = supervisor_console.post(url + "accept/", {"reason": "  "}, follow=True)
    assert "请填写验收意见或退回理由" in refused.content.decode()
    first.refresh_from_db()
    assert first.state == "answered"
    accepted = supervisor_console.post(url + "accept/", {"reason": "整改到位"}, follow=True)
    assert "已验收，整改通知关闭" in accepted.content.decode()
    first.refresh_from_db()
    assert (first.state, first.steps.last().text) == ("accepted", "整改到位")
    again = supervisor_console.post(url + "reopen/", {"reason": "再查"}, follow=True)
    assert 'class="notice err"' in again.content.decode()
    first.refresh_from_db()
    assert first.state == "accepted"  # out of order: refused, nothing changed
    second = answered(issue(supervisor_user, zz_agency, rule="manual", summary="另一问题"))
    supervisor_console.post(f"/console/hub/compliance/{second.pk}/reopen/", {"reason": "不充分"})
    second.refresh_from_db()
    assert second.state == "reopened"


def test_the_supervisor_issues_a_notice_by_hand(supervisor_console, zz_agency, zz_peer):
    bad = supervisor_console.post(
        "/console/hub/compliance/issue/", {"agency_code": "NOPE", "summary": "x"}
    )
    assert bad.status_code == 400 and "单位不存在" in bad.content.decode()
    nobody = supervisor_console.post("/console/hub/compliance/issue/", {"summary": "无对象"})
    assert nobody.status_code == 400 and "请指明整改单位或市级节点" in nobody.content.decode()
    response = supervisor_console.post(
        "/console/hub/compliance/issue/",
        {"rule": "manual", "agency_code": zz_agency.code, "summary": "关联事项与办事指南不一致"},
    )
    notice = RectificationNotice.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/{notice.pk}/")
    assert (notice.automatic, notice.issued_by.username, notice.city_code) == (
        False,
        "supervisor",
        ZZ,
    )


def test_the_operator_reads_notices_but_may_not_decide(
    library_admin, supervisor_user, zz_agency, zz_peer
):
    notice = answered(issue(supervisor_user, zz_agency))
    operator = console_client(library_admin)
    assert operator.get("/console/hub/compliance/").status_code == 200
    detail = operator.get(f"/console/hub/compliance/{notice.pk}/").content.decode()
    assert "验收通过" not in detail
    decided = operator.post(f"/console/hub/compliance/{notice.pk}/accept/", {"reason": "好"})
    assert decided.status_code == 403
    assert operator.get("/console/hub/compliance/issue/").status_code == 403
    notice.refresh_from_db()
    assert notice.state == "answered"


def test_staff_are_refused_the_notices(issuer_user):
    response = console_client(issuer_user).get("/console/hub/compliance/")
    assert response.status_code == 403 and "无权访问此页面" in response.content.decode()


def test_an_evaluation_runs_now(supervisor_console):
    page = supervisor_console.get("/console/hub/compliance/runs/")
    assert page.status_code == 200 and "立即考核" in page.content.decode()
    response = supervisor_console.post("/console/hub/compliance/runs/now/", follow=True)
    run = EvaluationRun.objects.get()
    assert (run.trigger, run.finished_at is not None) == ("console", True)
    assert "考核完成" in response.content.decode()


def test_the_supervisor_reads_the_dashboard_without_its_buttons(supervisor_console):
    home = supervisor_console.get("/console/").content.decode()
    assert 'href="/console/hub/compliance/"' in home and 'href="/console/hub/"' in home
    assert supervisor_console.get("/console/hub/").status_code == 200
    city = supervisor_console.get(f"/console/hub/cities/{ZZ}/")
    assert city.status_code == 200 and "发起对账" not in city.content.decode()
    assert supervisor_console.post(f"/console/hub/cities/{ZZ}/reconcile/").status_code == 403
    assert supervisor_console.post(f"/console/hub/cities/{ZZ}/files/retry/").status_code == 403
