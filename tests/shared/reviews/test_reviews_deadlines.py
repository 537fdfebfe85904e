"""Deadlines on the statutory calendar (5 working days from receipt, make-up working days
counted, overrides applied), answers on the last day and a day late, reminders at 2 and 1
working days left, the overdue flag set once — with the clock moved by time-machine."""

from datetime import date

import chinese_calendar
import pytest
from django.conf import settings

from shared.calendars.models import WorkdayOverride
from shared.core.errors import ConflictError
from shared.reviews import tasks
from shared.reviews.deadlines import review_flag_overdue, review_remind, review_sweep
from shared.reviews.models import ReviewRequest
from shared.reviews.selectors import overdue_counts
from tests.shared.access.conftest import grant, issue
from tests.shared.reviews.conftest import body, review_outbox, state_of, travel

pytestmark = pytest.mark.django_db


def test_the_holidays_are_as_chinese_calendar_has_them():
    """The cases below rest on these days of chinese_calendar's 2026 data (not guessed)."""
    make_up = [date(2026, 2, 14), date(2026, 2, 28), date(2026, 9, 20), date(2026, 10, 10)]
    assert [d.strftime("%a") for d in make_up] == ["Sat", "Sat", "Sun", "Sat"]
    assert all(chinese_calendar.is_workday(d) for d in make_up)
    spring = [date(2026, 2, d) for d in range(15, 24)]  # 15–23 February
    national = [date(2026, 10, d) for d in range(1, 8)]  # 1–7 October
    assert not any(chinese_calendar.is_workday(d) for d in spring + national)
    with pytest.raises(NotImplementedError):  # no official data yet: the deadline is provisional
        chinese_calendar.is_workday(date(2027, 1, 4))


def file(consumer, consumer_agency, issuer_user, license_type, **overrides):
    grant(consumer_agency, license_type)
    lic = issue(issuer_user, license_type)
    response = consumer.post("/api/v1/reviews/", body(lic.identifier, **overrides), format="json")
    assert response.status_code == 201, response.json()
    return response.json()


@pytest.mark.parametrize(
    "received,hour,deadline",
    [
        # Spring Festival: Sat 14 Feb counts, 15–23 Feb do not.
        ("2026-02-13", 10, "2026-02-27"),
        ("2026-02-13", 23, "2026-02-27"),
        # After midnight in Shanghai it is the 14th (still the 13th in UTC): one day later.
        ("2026-02-14", 0, "2026-02-28"),
        # Sat 28 Feb, the second make-up day of the festival, counts.
        ("2026-02-24", 10, "2026-03-02"),
        # National Day: Sun 20 Sep (make-up) counts.
        ("2026-09-18", 10, "2026-09-24"),
        # 1–7 Oct off, Sat 10 Oct (make-up) counts.
        ("2026-09-30", 10, "2026-10-13"),
    ],
)
def test_the_deadline_is_the_fifth_working_day_after_receipt(
    received, hour, deadline, consumer, consumer_agency, issuer_user, license_type
):
    with travel(received, hour, 30):
        answer = file(consumer, consumer_agency, issuer_user, license_type)
    assert (answer["deadline"], answer["deadline_provisional"]) == (deadline, False)


def test_an_override_moves_the_deadline(consumer, consumer_agency, issuer_user, license_type):
    WorkdayOverride.objects.create(day=date(2026, 2, 26), is_workday=False, note="临时停工")
    with travel("2026-02-13"):
        later = file(consumer, consumer_agency, issuer_user, license_type)
    assert later["deadline"] == "2026-02-28"  # 14, 24, 25, 27, 28
    WorkdayOverride.objects.filter(day=date(2026, 2, 26)).delete()
    WorkdayOverride.objects.create(day=date(2026, 2, 16), is_workday=True, note="调整上班")
    with travel("2026-02-13", 11):
        earlier = file(
            consumer, consumer_agency, issuer_user, license_type, use_cause="再次核验经营项目"
        )
    assert earlier["deadline"] == "2026-02-26"  # 14, 16, 24, 25, 26


def test_without_official_data_the_deadline_is_provisional(
    consumer, consumer_agency, issuer_user, license_type
):
    with travel("2027-01-04"):
        answer = file(consumer, consumer_agency, issuer_user, license_type)
    assert (answer["deadline"], answer["deadline_provisional"]) == ("2027-01-11", True)


@pytest.mark.parametrize(
    "day,hour,minute,late", [("2026-02-27", 23, 59, False), ("2026-02-28", 0, 1, True)]
)
def test_an_answer_on_the_last_day_is_on_time_and_the_next_day_late(
    day, hour, minute, late, consumer, consumer_agency, issuer_user, license_type, issuer
):
    with travel("2026-02-13"):
        filed = file(consumer, consumer_agency, issuer_user, license_type)
    with travel(day, hour, minute):
        response = issuer.post(
            f"/api/v1/reviews/{filed['id']}/answer/", {"outcome": "confirmed"}, format="json"
        )
    assert response.status_code == 200
    assert response.json()["answered_late"] is late
    assert ReviewRequest.objects.get(pk=filed["id"]).answered_late is late


def test_reminders_at_two_and_one_days_then_overdue_once(
    consumer, consumer_agency, issuer_user, license_type, issuer, issuer_agency
):
    with travel("2026-02-13"):  # due Fri 27 Feb
        filed = file(consumer, consumer_agency, issuer_user, license_type)
    review_id = filed["id"]
    steps = [
        ("2026-02-24", 0, 0, 0),  # 25, 26, 27 left
        ("2026-02-25", 1, 0, 1),  # 26, 27 left: the first reminder
        ("2026-02-25", 0, 0, 1),  # an hour later: nothing more
        ("2026-02-26", 1, 0, 2),  # 27 left: the second
        ("2026-02-27", 0, 0, 2),  # the deadline day: nothing more
        ("2026-02-28", 0, 1, 2),  # the deadline has passed: overdue, once
        ("2026-03-01", 0, 0, 2),
    ]
    hour = 1
    for day, reminded, flagged, sent in steps:
        hour += 1
        with travel(day, hour):
            result = tasks.sweep()
        assert result == {"reminded": reminded, "flagged": flagged}, day
        assert ReviewRequest.objects.get(pk=review_id).reminders_sent == sent, day
    row = ReviewRequest.objects.get(pk=review_id)
    assert (row.overdue, row.state, row.revision) == (True, "open", 4)
    assert [(r.ordinal, r.days_left) for r in row.reminders.all()] == [(1, 2), (2, 1)]
    inbox = issuer.get(f"/api/v1/reviews/{review_id}/").json()
    assert [(r["ordinal"], r["days_left"]) for r in inbox["reminders"]] == [(1, 2), (2, 1)]
    # counted against the issuer, in the list filter and the counts
    assert [r["id"] for r in issuer.get("/api/v1/reviews/?overdue=true").json()["results"]] == [
        review_id
    ]
    counts = {issuer_agency.code: {"name": issuer_agency.name, "overdue": 1, "overdue_open": 1}}
    assert overdue_counts() == counts
    assert issuer.get("/api/v1/reviews/overdue/").json() == [
        {
            "issuer_code": issuer_agency.code,
            "issuer_name": issuer_agency.name,
            "overdue": 1,
            "overdue_open": 1,
        }
    ]
    # each change went to the hub with its revision
    assert [e.payload["review"]["revision"] for e in review_outbox()] == [1, 2, 3, 4]
    # answered late: still counted, no longer open
    with travel("2026-03-02"):
        issuer.post(f"/api/v1/reviews/{review_id}/answer/", {"outcome": "confirmed"}, format="json")
    row.refresh_from_db()
    assert (row.answered_late, row.overdue) == (True, True)
    assert overdue_counts(open_only=True) == {}
    assert overdue_counts()[issuer_agency.code]["overdue"] == 1


def test_over_a_holiday_the_last_day_is_reminded_before_it(
    consumer, consumer_agency, issuer_user, license_type
):
    with travel("2026-02-10"):  # 11, 12, 13, 14 (Sat), 24: due Tue 24 Feb
        filed = file(consumer, consumer_agency, issuer_user, license_type)
    assert filed["deadline"] == "2026-02-24"
    with travel("2026-02-13"):
        assert review_sweep().reminded == 1  # 14 and 24 left
    with travel("2026-02-14"):
        assert review_sweep().reminded == 1  # only 24 left
    with travel("2026-02-20"):  # the holiday: nothing more to say
        assert review_sweep().reminded == 0
    assert ReviewRequest.objects.get(pk=filed["id"]).reminders_sent == 2


def test_each_clock_change_is_refused_out_of_order_and_changes_nothing(
    consumer, consumer_agency, issuer_user, license_type, issuer
):
    with travel("2026-02-13"):
        review_id = file(consumer, consumer_agency, issuer_user, license_type)["id"]

    def refused(call, code, day):
        before = state_of(review_id)
        with travel(day), pytest.raises(ConflictError) as error:
            call(review_id=review_id)
        assert (error.value.code, error.value.status_code) == (code, 409)
        assert state_of(review_id) == before

    refused(review_remind, "review.reminder_not_due", "2026-02-24")  # three days left
    refused(review_flag_overdue, "review.not_overdue", "2026-02-27")  # the last day
    with travel("2026-02-26"):
        review_remind(review_id=review_id)
    refused(review_remind, "review.reminder_not_due", "2026-02-26")  # given already
    with travel("2026-02-28"):
        review_flag_overdue(review_id=review_id)
    refused(review_flag_overdue, "review.already_overdue", "2026-03-01")
    refused(review_remind, "review.reminder_not_due", "2026-03-01")  # overdue: no reminders
    with travel("2026-03-02"):
        issuer.post(
            f"/api/v1/reviews/{review_id}/answer/",
            {"outcome": "rejected", "reason": "信息无误"},
            format="json",
        )
    refused(review_flag_overdue, "review.closed", "2026-03-03")
    refused(review_remind, "review.closed", "2026-03-03")


def test_the_sweep_runs_hourly_on_the_beat():
    assert settings.CELERY_BEAT_SCHEDULE["reviews-sweep"] == {
        "task": "reviews.sweep",
        "schedule": 3600,
    }
    assert tasks.sweep.name == "reviews.sweep"
