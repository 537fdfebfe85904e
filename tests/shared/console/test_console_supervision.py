"""The supervision screens of every tier: statistics (scoped as the API), the audit trail
(library administrator and supervisor only, before/after as a diff, CSV), and the supervisor,
who sees these and is refused every licence screen with the 403 page in Chinese."""

from datetime import date

import pytest
from django.db import transaction
from django.utils import timezone

from shared.audit.services import audit_record
from shared.statistics.models import Counter
from tests.console_support import console_client
from tests.support import make_user

pytestmark = pytest.mark.django_db
MONTH = date(2026, 11, 1)


@pytest.fixture
def supervisor_console(db):
    return console_client(make_user("supervisor_1", None, role="supervisor"))


def count(metric: str, n: int, *, agency: str, library: str = "410100", consumer: str = ""):
    Counter.objects.create(
        month=MONTH,
        library_code=library,
        agency_code=agency,
        type_code="1" * 21,
        metric=metric,
        consumer_code=consumer,
        count=n,
    )


# --- the supervisor ---------------------------------------------------------------------------

LICENCE_SCREENS = [
    "/console/catalogue/",
    "/console/catalogue/11111111111111111111/issue/",
    "/console/licences/",
    "/console/licences/ANY-IDENTIFIER/",
    "/console/use/query/",
    "/console/use/verify-file/",
    "/console/use/verify-qr/",
    "/console/admin/users/",
    "/console/admin/tokens/",
]


@pytest.mark.parametrize("path", LICENCE_SCREENS)
def test_the_supervisor_is_refused_every_licence_screen(supervisor_console, path):
    response = supervisor_console.get(path)
    assert response.status_code == 403
    body = response.content.decode()
    assert "无权访问此页面" in body and "监管人员" in body


def test_a_licence_action_posted_by_the_supervisor_is_refused(supervisor_console):
    response = supervisor_console.post("/console/licences/X/act/suspend/", {"reason": "试"})
    assert response.status_code == 403


def test_the_supervisor_lands_on_what_they_may_see(supervisor_console):
    body = supervisor_console.get("/console/").content.decode()
    assert 'data-testid="supervisor-landing"' in body
    assert 'href="/console/statistics/"' in body and 'href="/console/audit/"' in body
    assert "依照监管职责分离，监管人员不能签发、查询、验证或下载证照" in body
    assert 'href="/console/licences/"' not in body and 'href="/console/use/query/"' not in body


# --- statistics -------------------------------------------------------------------------------


@pytest.fixture
def counters(issuer_agency, other_issuer_agency, consumer_agency):
    count("issue", 5, agency=issuer_agency.code)
    count("suspend", 2, agency=issuer_agency.code)
    count("revoke", 1, agency=issuer_agency.code)
    count("query", 7, agency=issuer_agency.code, consumer=consumer_agency.code)
    count("review_received", 3, agency=issuer_agency.code)
    count("issue", 11, agency=other_issuer_agency.code)
    count("arrival_late", 4, agency=other_issuer_agency.code)


def test_the_supervisor_reads_every_agency_with_a_chart(supervisor_console, counters):
    response = supervisor_console.get("/console/statistics/?month=2026-11&by=agency")
    assert response.status_code == 200
    body = response.content.decode()
    assert response.context["report"].scope == "library"
    figures = {r["key"]: r["figures"] for r in response.context["rows"]}
    assert len(figures) == 2
    assert response.context["totals"] == {
        "issue": 16,
        "changed": 3,
        "query": 7,
        "review_received": 3,
        "arrival_late": 4,
    }
    assert 'data-testid="statistics-chart"' in body and "<rect" in body
    assert "2026 年 11 月按签发单位的主要指标" in body


def test_an_agency_admin_sees_only_its_agency(agency_admin, issuer_agency, counters):
    client = console_client(agency_admin)
    response = client.get("/console/statistics/?month=2026-11&by=agency")
    assert response.status_code == 200
    assert response.context["report"].scope == "agency"
    assert [r["key"] for r in response.context["rows"]] == [issuer_agency.code]
    assert response.context["totals"]["issue"] == 5
    csv = client.get("/console/statistics/export.csv?month=2026-11&by=agency")
    assert csv.status_code == 200 and csv["Content-Type"].startswith("text/csv")
    text = csv.content.decode("utf-8-sig")
    assert issuer_agency.code in text and "合计" in text
    assert text.count("\n") == 3  # header, our agency, total: not the other agency


def test_staff_are_refused_statistics(issuer_console):
    response = issuer_console.get("/console/statistics/")
    assert response.status_code == 403
    assert "无权访问此页面" in response.content.decode()


def test_a_bad_month_is_said_in_chinese(supervisor_console):
    response = supervisor_console.get("/console/statistics/?month=2026-13")
    assert response.status_code == 400
    assert "月份格式应为 YYYY-MM" in response.content.decode()
    csv = supervisor_console.get("/console/statistics/export.csv?by=nothing")
    assert csv.status_code == 400 and "统计维度" in csv.content.decode()


# --- the audit trail --------------------------------------------------------------------------


@pytest.fixture
def entries(library_admin):
    with transaction.atomic():
        audit_record(
            actor=library_admin,
            action="agency.update",
            target_type="agency",
            target_id="A1",
            before={"name": "旧名称", "active": True},
            after={"name": "新名称", "active": True},
        )
        audit_record(
            actor=None,
            action="token.revoke",
            target_type="token",
            target_id="7",
            before=None,
            after={"revoked": True},
        )


def test_the_audit_trail_shows_a_readable_diff(admin_console, entries):
    response = admin_console.get("/console/audit/?action_prefix=agency.")
    assert response.status_code == 200
    [row] = response.context["entries"]
    assert row["entry"].action == "agency.update"
    assert row["diff"] == [
        {"field": "active", "was": "true", "now": "true", "changed": False},
        {"field": "name", "was": "旧名称", "now": "新名称", "changed": True},
    ]
    body = response.content.decode()
    assert '<td class="was"><span class="vh">原值：</span>旧名称</td>' in body
    assert '<td class="now"><span class="vh">新值：</span>新名称</td>' in body


def test_the_audit_trail_filters_by_actor_and_dates(supervisor_console, entries, library_admin):
    by_actor = supervisor_console.get(f"/console/audit/?actor={library_admin.username}")
    assert [r["entry"].action for r in by_actor.context["entries"]] == ["agency.update"]
    today = timezone.localdate().isoformat()
    both = supervisor_console.get(f"/console/audit/?since={today}&until={today}")
    actions = {r["entry"].action for r in both.context["entries"]}
    assert {"agency.update", "token.revoke"} <= actions
    none = supervisor_console.get("/console/audit/?until=2000-01-01")
    assert none.context["entries"] == []
    bad = supervisor_console.get("/console/audit/?since=yesterday")
    assert bad.status_code == 400 and "时间格式应为 ISO 8601" in bad.content.decode()


def test_the_audit_csv_has_the_filtered_rows(admin_console, entries):
    response = admin_console.get("/console/audit/export.csv?action_prefix=token.")
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    lines = text.strip().splitlines()
    assert lines[0].startswith("编号,时间,操作人") and len(lines) == 2
    assert "token.revoke" in lines[1]


@pytest.mark.parametrize("path", ["/console/audit/", "/console/audit/export.csv"])
def test_staff_and_agency_admins_are_refused_the_audit_trail(issuer_user, agency_admin, path):
    for user in (issuer_user, agency_admin):
        response = console_client(user).get(path)
        assert response.status_code == 403
        assert "无权访问此页面" in response.content.decode()
