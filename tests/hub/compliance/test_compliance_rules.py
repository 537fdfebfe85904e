"""The rules the hub evaluates daily (art. 31, 33) and the idempotence of the daily run: a breach
makes one notice, found again it makes none, whatever the number of runs."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db.models import Count
from django.utils import timezone

from provincial_hub.compliance import rules
from provincial_hub.compliance.evaluation import compliance_evaluate
from provincial_hub.compliance.models import EvaluationRun, NoticeStep, RectificationNotice
from provincial_hub.compliance.services import Who, notice_answer, notice_decide
from shared.calendars.selectors import workday_calendar
from shared.catalog.models import LicenseType
from shared.domain.notices import StepKind
from shared.federation.models import OutboxEvent
from shared.inspections.models import Inspection
from shared.reviews.models import ReviewRequest
from tests.hub.compliance.conftest import LY, ZZ, arrivals
from tests.shared.access.conftest import issue
from tests.support import make_type, make_user

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


def context(day=None):
    return rules.Context(day=day or timezone.localdate(), calendar=workday_calendar())


@pytest.fixture
def zz_licence(zz_agency):
    """A licence of 郑州's regulator under a type the hub holds (issued here for the test)."""
    staff = make_user("zz_staff", zz_agency)
    license_type = make_type(staff, seq=41, requires_review=False)
    return issue(staff, license_type, number="ZZ1")


# --- (a) the catalogue -----------------------------------------------------------------------


def test_licences_under_a_type_never_published_at_the_hub_are_a_breach_of_their_issuer(
    zz_licence, zz_agency, ly_agency
):
    # given: the type of 郑州's licence is held here as a draft, never published
    LicenseType.objects.filter(pk=zz_licence.license_type_id).update(
        state=LicenseType.State.DRAFT, published_at=None
    )
    # when
    found = rules.catalog_unregistered(context())
    # then: one breach, 郑州's regulator's, answered by 郑州
    assert len(found) == 1
    breach = found[0]
    assert (breach.agency, breach.city_code, breach.period) == (
        zz_agency,
        ZZ,
        str(timezone.localdate().year),
    )
    assert breach.findings["types"] == [
        {
            "type_code": zz_licence.license_type.type_code,
            "name": zz_licence.license_type.name,
            "state": "draft",
            "licenses": 1,
        }
    ]
    assert "1 个证照类型未在省级库登记发布" in breach.summary


def test_a_published_type_is_not_a_catalogue_breach(zz_licence):
    assert rules.catalog_unregistered(context()) == []
    assert rules.catalog_stale(context()) == []


def test_a_published_type_with_licences_and_no_update_for_the_period_is_stale(
    zz_licence, zz_agency, settings
):
    settings.COMPLIANCE_CATALOG_STALE_DAYS = 365
    idle = make_type(make_user("zz_other", zz_agency), seq=42, requires_review=False)
    old = timezone.now() - timedelta(days=366)
    LicenseType.objects.filter(pk__in=[zz_licence.license_type_id, idle.pk]).update(updated_at=old)
    found = rules.catalog_stale(context())
    # the type without licences is not counted: nothing was issued under it
    assert [(b.agency, [t["type_code"] for t in b.findings["types"]]) for b in found] == [
        (zz_agency, [zz_licence.license_type.type_code])
    ]
    # a day less than the period is not stale
    LicenseType.objects.filter(pk=zz_licence.license_type_id).update(
        updated_at=timezone.now() - timedelta(days=364)
    )
    assert rules.catalog_stale(context()) == []


# --- (b) aggregation -------------------------------------------------------------------------


def test_late_arrivals_over_the_threshold_are_a_breach_of_the_issuer_and_of_the_city(
    zz_agency, ly_agency, settings
):
    settings.COMPLIANCE_LATE_MIN_COUNT = 5
    settings.COMPLIANCE_LATE_RATIO = 0.05
    arrivals(library=ZZ, issuer=zz_agency, late=6, on_time=34)  # 15 %
    arrivals(library=LY, issuer=ly_agency, late=4, on_time=0)  # 100 %, but only 4
    found = rules.aggregation_late(context())
    assert sorted((b.subject_key, b.city_code, b.agency) for b in found) == sorted(
        [(ZZ, ZZ, None), (zz_agency.code, ZZ, zz_agency)]
    )
    city = next(b for b in found if b.agency is None)
    assert city.period == timezone.localdate().strftime("%Y-%m")
    assert city.findings["arrivals"] == 40
    assert city.findings["late"] == 6
    assert city.summary.startswith("郑州市节点近 30 天汇聚的 40 张证照中有 6 张超过汇聚时限")


def test_late_arrivals_outside_the_window_or_under_the_ratio_are_no_breach(zz_agency, settings):
    settings.COMPLIANCE_LATE_WINDOW_DAYS = 30
    arrivals(library=ZZ, issuer=zz_agency, late=10, on_time=0, days_ago=31)
    arrivals(library=ZZ, issuer=zz_agency, late=5, on_time=200, days_ago=2)  # 2.4 %
    assert rules.aggregation_late(context()) == []


# --- the daily run ---------------------------------------------------------------------------


def test_the_daily_run_is_idempotent_and_notices_travel_down(zz_agency, zz_peer, settings):
    arrivals(library=ZZ, issuer=zz_agency, late=6, on_time=4)
    # when: the run twice (beat, then an operator's command)
    first = compliance_evaluate()
    call_command("compliance", "evaluate")
    # then: one notice per breach (the agency's and the city's), made by the first run
    notices = RectificationNotice.objects.order_by("subject_key")
    assert [(n.subject_key, n.rule, n.state, n.automatic) for n in notices] == [
        (zz_agency.code, "aggregation.late", "issued", True),
        (ZZ, "aggregation.late", "issued", True),
    ]
    assert first.notices_created == 2
    second = EvaluationRun.objects.order_by("-pk").first()
    assert (second.trigger, second.breaches, second.notices_created) == ("manual", 2, 0)
    # each issued by the system, with its step, and each went down to 郑州 once
    steps = NoticeStep.objects.order_by("notice__subject_key")
    assert [(s.kind, s.actor_id, s.library_code) for s in steps] == [
        ("issue", None, "410000"),
        ("issue", None, "410000"),
    ]
    sent = OutboxEvent.objects.filter(stream=ZZ, kind="compliance.notice")
    assert sorted(e.key for e in sent) == sorted(str(n.pk) for n in notices)
    # the deadline: COMPLIANCE_NOTICE_DEADLINE_DAYS working days after today
    expected = workday_calendar().add_workdays(
        timezone.localdate(), settings.COMPLIANCE_NOTICE_DEADLINE_DAYS
    )
    assert {n.deadline for n in notices} == {expected.day}


def test_a_closed_breach_is_not_noticed_again_in_its_period_nor_while_open_in_the_next(
    zz_agency, supervisor_user
):
    arrivals(library=ZZ, issuer=zz_agency, late=6, on_time=4)
    day = timezone.localdate()
    compliance_evaluate(day=day)
    notice = RectificationNotice.objects.get(subject_key=zz_agency.code)
    # the city answers and the supervisor accepts: closed
    notice_answer(
        notice_id=notice.pk,
        text="已排查上报延迟原因并整改",
        who=Who(actor=None, name="张三（410100）", library_code=ZZ),
    )
    notice_decide(actor=supervisor_user, notice_id=notice.pk, kind=StepKind.accept, reason="同意")
    # the same late arrivals are found again the same month: no new notice
    compliance_evaluate(day=day)
    assert RectificationNotice.objects.filter(subject_key=zz_agency.code).count() == 1
    # next month, the city's notice (never answered) is still open: none for the city either
    next_month = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
    with time_machine.travel(datetime.combine(next_month, time(9), tzinfo=SHANGHAI)):
        arrivals(library=ZZ, issuer=zz_agency, late=6, on_time=4, days_ago=0)
        compliance_evaluate(day=next_month)
    by_subject = dict(
        RectificationNotice.objects.values_list("subject_key").annotate(n=Count("pk"))
    )
    # the agency's was closed: a new period makes a new notice; the city's is still open
    assert by_subject == {zz_agency.code: 2, ZZ: 1}


# --- (c) reviews, (d) inspections (as the hub mirrors them) ---------------------------------


def review(lic, *, overdue=True, state="open", deadline=date(2026, 5, 13)):
    return ReviewRequest.objects.create(
        library_code=ZZ,
        license=lic,
        identifier=lic.identifier,
        issuer=lic.issuer,
        license_type=lic.license_type,
        requester_kind="holder",
        reason="地址有误",
        received_at=timezone.now() - timedelta(days=10),
        deadline=deadline,
        state=state,
        overdue=overdue,
    )


def inspection(lic, *, submitted_on, year=2026, state="submitted"):
    return Inspection.objects.create(
        library_code=ZZ,
        license=lic,
        issuer=lic.issuer,
        license_type=lic.license_type,
        identifier=lic.identifier,
        year=year,
        state=state,
        submitter_kind="holder",
        submitted_at=datetime.combine(submitted_on, time(10), tzinfo=SHANGHAI),
    )


def test_open_overdue_reviews_are_a_breach_of_their_issuer(zz_licence, zz_agency):
    review(zz_licence, deadline=date(2026, 5, 13))
    review(zz_licence, deadline=date(2026, 5, 8))
    review(zz_licence, overdue=False)  # not yet overdue
    review(zz_licence, state="rejected")  # answered (late or not): not open
    found = rules.reviews_overdue(context(date(2026, 5, 20)))
    assert [(b.agency, b.city_code, b.period) for b in found] == [(zz_agency, ZZ, "2026-05")]
    assert found[0].findings["overdue"] == 2
    assert found[0].findings["oldest_deadline"] == "2026-05-08"
    assert found[0].summary == "2 件复核申请逾期未办理（最早期限 2026-05-08）"


def test_inspections_undecided_past_the_working_days_are_a_breach(zz_licence, zz_agency, settings):
    settings.COMPLIANCE_INSPECTION_BACKLOG_DAYS = 20
    day = date(2026, 10, 30)
    # 20 working days before the day (National Day's holidays do not count): not yet a breach
    inspection(zz_licence, submitted_on=date(2026, 9, 28), year=2025)
    assert rules.inspections_backlog(context(day)) == []
    # 21 working days (35 calendar days)
    inspection(zz_licence, submitted_on=date(2026, 9, 25), year=2026)
    found = rules.inspections_backlog(context(day))
    assert [(b.agency, b.period, b.findings["waiting"]) for b in found] == [
        (zz_agency, "2026-10", 1)
    ]
    assert found[0].findings["oldest_submitted"] == "2026-09-25"
    # decided: no longer waiting
    Inspection.objects.filter(year=2026).update(state="approved")
    assert rules.inspections_backlog(context(day)) == []


def test_the_daily_run_evaluates_every_rule(zz_licence, zz_agency):
    review(zz_licence)
    run = compliance_evaluate(day=date(2026, 5, 20))
    assert set(run.by_rule) == {r.value for r in rules.RULES}
    assert run.by_rule["reviews.overdue"] == {"breaches": 1, "notices": 1}
    assert run.finished_at is not None
    notice = RectificationNotice.objects.get(rule="reviews.overdue")
    assert (notice.agency, notice.period, notice.automatic) == (zz_agency, "2026-05", True)
    assert [n.rule for n in RectificationNotice.objects.all()] == ["reviews.overdue"]


def test_beat_evaluates_daily_and_escalates_hourly():
    schedule = django_settings.CELERY_BEAT_SCHEDULE
    assert schedule["compliance-evaluate"]["task"] == "compliance.evaluate"
    assert schedule["compliance-evaluate"]["schedule"].hour == {1}
    assert schedule["compliance-escalate"]["task"] == "compliance.escalate"
    assert schedule["compliance-escalate"]["schedule"] == 3600
