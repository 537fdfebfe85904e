"""The node's rectification notices in the console (municipal_node.notices.console): the
agency's staff read their notices and the node's administrator all of the city's; a notice's
steps; the answer through `notice_answer` (sent up to the hub), refused out of order; another
agency's notice is 404; the form needs its CSRF token; the supervisor is refused."""

import pytest

from municipal_node.notices.models import Notice, NoticeAnswer
from shared.federation.models import OutboxEvent
from tests.console_support import console_client
from tests.node.notices.test_notices_node import NOTICE_ID, apply, snapshot
from tests.support import make_agency, make_user

pytestmark = pytest.mark.django_db
URL = f"/console/node/notices/{NOTICE_ID}/"
ANSWER = "已补录 6 张证照的汇聚，并调整了夜间同步任务"


@pytest.fixture
def notice(issuer_agency):
    apply(snapshot(issuer_agency))
    return Notice.objects.get(pk=NOTICE_ID)


def test_the_agency_reads_its_notice_with_its_steps_and_answers_it(issuer_user, notice):
    client = console_client(issuer_user)
    home = client.get("/console/").content.decode()
    assert 'href="/console/node/notices/"' in home  # the node's nav section
    listed = client.get("/console/node/notices/").content.decode()
    assert "证照数据汇聚不及时" in listed and URL in listed
    detail = client.get(URL).content.decode()
    assert "下发整改通知" in detail and "省级库每日合规考核（系统）" in detail
    assert "2026-05-06 01:30" in detail  # the hub's step, in local time
    response = client.post(URL, {"text": ANSWER})
    assert response.status_code == 302
    notice.refresh_from_db()
    assert notice.state == "answered" and NoticeAnswer.objects.get().text == ANSWER
    assert OutboxEvent.objects.filter(kind="compliance.answer", key=NOTICE_ID).count() == 1
    shown = client.get(URL).content.decode()
    assert ANSWER in shown and "待省级库确认" in shown and "提交答复" not in shown
    again = client.post(URL, {"text": "再次答复"})
    assert again.status_code == 409 and NoticeAnswer.objects.count() == 1


def test_a_blank_answer_is_refused_with_the_services_message(issuer_user, notice):
    response = console_client(issuer_user).post(URL, {"text": "  "})
    assert response.status_code == 400 and "请填写整改情况" in response.content.decode()
    assert console_client(issuer_user).post(URL, {"text": "整改\x00"}).status_code == 400
    assert console_client(issuer_user).get("/console/node/notices/?state=%00").status_code == 200
    assert Notice.objects.get(pk=NOTICE_ID).state == "issued"


def test_another_agencys_notice_is_not_found_and_the_admin_reads_all(
    other_issuer_user, library_admin, notice
):
    other = console_client(other_issuer_user)
    assert other.get(URL).status_code == 404
    assert other.post(URL, {"text": ANSWER}).status_code == 404
    assert "证照数据汇聚不及时" not in other.get("/console/node/notices/").content.decode()
    assert other.get("/console/node/notices/not-an-id/").status_code == 404
    admin = console_client(library_admin)
    assert "证照数据汇聚不及时" in admin.get("/console/node/notices/").content.decode()
    assert admin.get(URL).status_code == 200
    assert Notice.objects.get(pk=NOTICE_ID).state == "issued"


def test_the_supervisor_is_refused_and_the_form_needs_its_csrf_token(issuer_user, notice):
    agency = make_agency("河南省发展和改革委员会", body="00009001", area="410000", level="province")
    supervisor = console_client(make_user("supervisor_1", agency, role="supervisor"))
    assert supervisor.get("/console/node/notices/").status_code == 403
    guarded = console_client(issuer_user, enforce_csrf_checks=True)
    assert guarded.post(URL, {"text": ANSWER}).status_code == 403
    assert NoticeAnswer.objects.count() == 0
