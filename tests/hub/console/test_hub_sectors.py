"""行业电子证照库 at the hub: every sector library with its health as its calls say, the
operator's 检测 against a real (loopback) library, the supervisor read-only, agency staff
refused; and the hub nav's statistics for the operator and the supervisor."""

from datetime import timedelta

import pytest
from django.utils import timezone

from provincial_hub.aggregation.models import SectorCall, SectorLibrary
from tests.console_support import console_client
from tests.federation.sector_reference import SectorReference

pytestmark = pytest.mark.django_db


def library(code, url="http://127.0.0.1:9", *, active=True):
    return SectorLibrary.objects.create(
        code=code, name=f"行业库{code}", base_url=url, type_codes=["T1", "T2"], active=active
    )


def calls(lib, *outcomes, latency=100.0, ago=timedelta(minutes=5)):
    """`outcomes`: True (answered) / False (failed), oldest first, a minute apart."""
    start = timezone.now() - ago
    for i, ok in enumerate(outcomes):
        SectorCall.objects.create(
            library=lib,
            kind="query",
            ok=ok,
            latency_ms=latency,
            error="" if ok else "Connection refused",
            at=start + timedelta(minutes=i),
        )


def card(page, code):
    start = page.index(f'data-sector="{code}"')
    return page[page.rindex("<section", 0, start) : page.index("</section>", start)]


def test_each_library_is_coloured_by_its_calls(operator_console):
    # given
    calls(library("ok"), True, True, True)
    calls(library("slow"), True, True, latency=3500.0)
    calls(library("flaky"), False, True, True, True)
    calls(library("down"), True, False)  # the last call failed
    calls(library("mostly"), False, False, True)  # 2 of 3 failed in 24 h
    calls(library("quiet"), True, ago=timedelta(days=2))
    library("off", active=False)
    # when
    page = operator_console.get("/console/hub/sectors/").content.decode()
    # then
    expected = {
        "ok": ("healthy", "正常"),
        "slow": ("late", "较慢"),
        "flaky": ("late", "不稳定"),
        "down": ("failing", "异常"),
        "mostly": ("failing", "异常"),
        "quiet": ("idle", "无调用"),
        "off": ("idle", "已停用"),
    }
    for code, (health, label) in expected.items():
        shown = card(page, code)
        assert f'class="card city {health}"' in shown, code
        assert f'<span class="tag {health}">{label}</span>' in shown, code
    assert "http://127.0.0.1:9" in card(page, "ok") and "启用" in card(page, "ok")
    assert ">4 / 1（错误率 25%）<" in card(page, "flaky")
    assert "3500 / 3500 毫秒" in card(page, "slow")
    assert "Connection refused" in card(page, "down")
    assert "最近一次调用失败" in card(page, "down") and "错误率 67%" in card(page, "mostly")
    assert "停用" in card(page, "off")


def test_a_share_query_records_every_call_outcome():
    from provincial_hub.aggregation.sector import sector_query

    down = library("down")
    with SectorReference([]) as sector:
        up = library("up", sector.url)
        sector_query(
            holder_code="91410100MA45XYZ12X",
            holder_code_type="001",
            matter_code="M1",
            use_cause="办理企业变更登记核验",
            requester="11410100000020019X",
        )
    assert list(SectorCall.objects.filter(library=up).values_list("kind", "ok", "error")) == [
        ("query", True, "")
    ]
    failed = SectorCall.objects.get(library=down)
    assert (failed.kind, failed.ok) == ("query", False)
    assert failed.error.startswith("无法连接：") and "Connection refused" in failed.error
    assert failed.latency_ms >= 0


def test_the_operator_probes_a_library(operator_console):
    with SectorReference([]) as sector:
        lib = library("yjglt", sector.url)
        # when: it answers
        response = operator_console.post("/console/hub/sectors/yjglt/probe/", follow=True)
        # then: the call is recorded and the library shows healthy
        assert sector.requests == [{"health": True}]
        page = response.content.decode()
        assert "行业库yjglt 检测通过" in page
        assert 'class="card city healthy"' in card(page, "yjglt")
        # when: it answers 503
        sector.health_status = "503 Service Unavailable"
        page = operator_console.post("/console/hub/sectors/yjglt/probe/", follow=True)
        assert "行业库yjglt 检测失败" in page.content.decode()
    probes = SectorCall.objects.filter(library=lib).order_by("at")
    assert [(c.kind, c.ok, c.by) for c in probes] == [
        ("probe", True, "admin"),
        ("probe", False, "admin"),
    ]
    assert probes[1].error.startswith("应答 HTTP 503：")
    assert 'class="card city failing"' in card(
        operator_console.get("/console/hub/sectors/").content.decode(), "yjglt"
    )
    assert operator_console.post("/console/hub/sectors/nope/probe/").status_code == 404
    assert operator_console.get("/console/hub/sectors/yjglt/probe/").status_code == 405


def test_the_supervisor_reads_but_may_not_probe_and_staff_are_refused(supervisor_user, issuer_user):
    library("yjglt")
    supervisor = console_client(supervisor_user)
    page = supervisor.get("/console/hub/sectors/").content.decode()
    assert 'data-sector="yjglt"' in page and "检测</button>" not in page
    assert "行业电子证照库（只读）" in supervisor.get("/console/").content.decode()
    assert supervisor.post("/console/hub/sectors/yjglt/probe/").status_code == 403
    staff = console_client(issuer_user)
    assert staff.get("/console/hub/sectors/").status_code == 403
    assert staff.post("/console/hub/sectors/yjglt/probe/").status_code == 403
    assert not SectorCall.objects.exists()


def test_the_probe_needs_the_csrf_token(library_admin):
    library("yjglt")
    strict = console_client(library_admin, enforce_csrf_checks=True)
    assert strict.post("/console/hub/sectors/yjglt/probe/").status_code == 403
    assert not SectorCall.objects.exists()


def test_the_hub_nav_leads_to_the_sectors_and_the_statistics(operator_console, supervisor_user):
    home = operator_console.get("/console/").content.decode()
    assert (
        'href="/console/hub/sectors/"' in home and "建设中" not in home.split("全省汇聚")[1][:600]
    )
    assert 'href="/console/statistics/"' in home
    assert operator_console.get("/console/statistics/").status_code == 200
    supervisor = console_client(supervisor_user)
    home = supervisor.get("/console/").content.decode()
    assert 'href="/console/statistics/"' in home
    response = supervisor.get("/console/statistics/export.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")


def test_call_records_past_their_keeping_time_are_purged(settings):
    from provincial_hub.aggregation.tasks import sector_calls_purge

    settings.SECTOR_CALLS_KEEP_DAYS = 90
    lib = library("yjglt")
    calls(lib, True, ago=timedelta(days=91))
    calls(lib, False, ago=timedelta(days=89))
    assert sector_calls_purge() == 1
    assert list(SectorCall.objects.values_list("ok", flat=True)) == [False]
    assert sector_calls_purge() == 0
