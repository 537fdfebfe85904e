"""Producers: expiry reminders (thresholds, working days, once), status changes, annual
inspection reminders, review answers — to the licence's holders and the issuer's staff."""

from datetime import date

from shared.domain.status import Action
from shared.licenses.models import License
from shared.licenses.services import license_act
from shared.notifications.models import Notification, Reminder
from shared.notifications.producers import expiry_reminders, inspection_reminders
from shared.reviews.deadlines import review_sweep
from shared.reviews.services import review_answer, review_create
from tests.shared.inspections.conftest import at, inspection_type, issue  # noqa: F401


def _rows(event: str) -> list[tuple[str, str, str]]:
    return sorted(
        Notification.objects.filter(event=event).values_list(
            "user__username", "channel", "dedupe_key"
        )
    )


def _licence(issuer_user, license_type, *, valid_to: date, number: str = "JY1") -> License:
    with at(2026, 9, 1):
        lic = issue(issuer_user, license_type, number=number)
    License.objects.filter(pk=lic.pk).update(valid_to=valid_to)
    lic.refresh_from_db()
    return lic


def test_expiry_reminders_by_threshold_on_working_days_once(
    holder, staff_with_email, issuer_user, license_type
):
    # given a licence expiring Wednesday 2026-10-14 (7 days before is in the National Day
    # holiday: 2026-10-01 … 10-07) and one expiring far later
    lic = _licence(issuer_user, license_type, valid_to=date(2026, 10, 14))
    _licence(issuer_user, license_type, valid_to=date(2027, 6, 1), number="JY2")
    # when the daily job runs on 09-14 (30 days before) twice, 09-29, then 09-30 twice
    runs = [
        expiry_reminders(today=date(2026, 9, 14)),
        expiry_reminders(today=date(2026, 9, 14)),
        expiry_reminders(today=date(2026, 9, 29)),
        expiry_reminders(today=date(2026, 9, 30)),
        expiry_reminders(today=date(2026, 9, 30)),
    ]
    # then the 30-day reminder went out once, and the 7-day one on the last working day
    # before the holiday, once; the far licence had none
    assert runs == [1, 0, 0, 1, 0]
    assert sorted(Reminder.objects.values_list("license_id", "key")) == [
        (lic.pk, "2026-10-14:30"),
        (lic.pk, "2026-10-14:7"),
    ]
    keys = [f"licence.expiring:{lic.pk}:2026-10-14:{d}" for d in (30, 7)]
    assert _rows("licence.expiring") == sorted(
        [
            (u, c, k)
            for k in keys
            for u, c in [
                ("holder_yz", "email"),
                ("holder_yz", "sms"),
                ("holder_yz", "file"),
                ("issuer_1", "email"),
                ("issuer_1", "file"),
            ]
        ]
    )
    subjects = set(Notification.objects.values_list("subject", flat=True))
    assert subjects == {"电子证照将于 30 天后到期", "电子证照将于 14 天后到期"}


def test_expiry_reminder_skips_other_libraries_and_ended_licences(
    holder, issuer_user, license_type, settings
):
    # given a mirror of another library's licence and a revoked one, both expiring in 30 days
    mirror = _licence(issuer_user, license_type, valid_to=date(2026, 10, 14))
    License.objects.filter(pk=mirror.pk).update(library_code="410300")
    revoked = _licence(issuer_user, license_type, valid_to=date(2026, 10, 14), number="JY3")
    license_act(
        actor=issuer_user, identifier=revoked.identifier, action=Action.revoke, reason="违法"
    )
    before = Notification.objects.count()
    # when the daily job runs
    reminded = expiry_reminders(today=date(2026, 9, 14))
    # then nobody is reminded
    assert reminded == 0
    assert Notification.objects.filter(event="licence.expiring").count() == 0
    assert Reminder.objects.count() == 0
    assert Notification.objects.count() == before


def test_status_change_tells_holder_and_staff_once_per_event(
    holder, staff_with_email, issuer_user, license_type
):
    # given a valid licence
    lic = _licence(issuer_user, license_type, valid_to=date(2029, 1, 1))
    # when it is suspended and resumed
    license_act(actor=issuer_user, identifier=lic.identifier, action=Action.suspend, reason="整改")
    license_act(actor=issuer_user, identifier=lic.identifier, action=Action.resume, reason="已整改")
    # then two notifications per recipient and channel, each naming its event
    rows = _rows("licence.status")
    assert len(rows) == 10
    assert {k for _, _, k in rows} == {f"licence.status:{lic.pk}:2", f"licence.status:{lic.pk}:3"}
    subjects = set(Notification.objects.values_list("subject", flat=True))
    assert subjects == {"电子证照状态变更：暂扣", "电子证照状态变更：恢复"}
    suspended = Notification.objects.filter(dedupe_key=f"licence.status:{lic.pk}:2").first()
    assert suspended is not None
    assert "原因：整改。" in suspended.body
    assert suspended.body.startswith(
        "食品经营许可证（编号 JY1，持证主体 郑州豫中食品有限公司）已暂扣"
    )


def test_review_request_is_told_to_the_issuer_on_working_days_and_answered_to_the_holder(
    holder, staff_with_email, issuer_user, license_type
):
    # given a holder's review request received Monday 2026-12-07 (due Monday 12-14)
    lic = _licence(issuer_user, license_type, valid_to=date(2029, 1, 1))
    with at(2026, 12, 7):
        review = review_create(
            actor=holder, identifier=lic.identifier, reason="经营项目有误，请核实更正", fields=[]
        )
    received = _rows("review.received")
    # when the beat runs with 2 working days left (Thu), 1 (Fri, twice), and after the deadline
    for day in (10, 11, 11, 15):
        with at(2026, 12, day):
            review_sweep()
    # and the issuer answers
    with at(2026, 12, 16):
        review_answer(actor=issuer_user, review_id=review.pk, outcome="confirmed")
    # then the issuer's staff were told on arrival, at each reminder and when it was overdue,
    # and the holder when it was answered, each once
    assert review.deadline == date(2026, 12, 14)
    assert received == [("issuer_1", c, f"review.received:{review.pk}") for c in ("email", "file")]
    assert {k for _, _, k in _rows("review.due")} == {
        f"review.due:{review.pk}:1",
        f"review.due:{review.pk}:2",
    }
    assert len(_rows("review.due")) == 4
    assert _rows("review.overdue") == [
        ("issuer_1", c, f"review.overdue:{review.pk}") for c in ("email", "file")
    ]
    assert _rows("review.answered") == [
        ("holder_yz", c, f"review.answered:{review.pk}") for c in ("email", "file", "sms")
    ]
    row = Notification.objects.filter(event="review.answered", channel="email").get()
    assert row.subject == "复核申请已答复：已确认无误"
    assert "（逾期答复）" in row.body
    assert row.link.endswith("/holder/reviews/")
    due = Notification.objects.filter(dedupe_key=f"review.due:{review.pk}:2").first()
    assert due is not None
    assert due.subject == "复核申请答复期限还剩 1 个工作日"


def test_inspection_reminders_when_window_opens_and_before_it_closes(
    holder,
    issuer_user,
    inspection_type,  # noqa: F811
):
    # given a licence of a type inspected 01-01 … 06-30, issued the year before
    with at(2025, 12, 1):
        lic = issue(issuer_user, inspection_type, number="TZ1")
    # when the daily job runs at the opening (twice), in May, and 4 working days before the end
    runs = [
        inspection_reminders(today=date(2026, 1, 5)),
        inspection_reminders(today=date(2026, 1, 5)),
        inspection_reminders(today=date(2026, 5, 6)),
        inspection_reminders(today=date(2026, 6, 24)),
        inspection_reminders(today=date(2026, 6, 25)),
    ]
    # then one "open" and one "closing" reminder
    assert runs == [1, 0, 0, 1, 0]
    assert sorted(Reminder.objects.values_list("key", flat=True)) == ["2026:closing", "2026:open"]
    assert {k for _, _, k in _rows("inspection.due")} == {
        f"inspection.due:{lic.pk}:2026:open",
        f"inspection.due:{lic.pk}:2026:closing",
    }
    subjects = set(Notification.objects.values_list("subject", flat=True))
    assert subjects == {"2026 年度网络年检已开始", "2026 年度网络年检即将截止"}


def test_expiry_reminders_read_a_chunk_of_licences_at_a_time(
    holder, issuer_user, license_type, monkeypatch
):
    """A city's 121-day horizon holds a hundred thousand licences: the reminders already sent
    are looked up for each chunk of candidates, not held for the whole horizon at once."""
    from shared.notifications import producers

    lics = [
        _licence(issuer_user, license_type, valid_to=date(2026, 10, 14), number=f"JY{n}")
        for n in range(5)
    ]
    monkeypatch.setattr(producers, "CHUNK", 2)
    looked_up = []
    real = producers._reminded

    def counting(**kwargs):  # type: ignore[no-untyped-def]
        looked_up.append(sorted(kwargs["license_ids"]))
        return real(**kwargs)

    monkeypatch.setattr(producers, "_reminded", counting)
    assert expiry_reminders(today=date(2026, 9, 14)) == 5
    assert [len(ids) for ids in looked_up] == [2, 2, 1]
    assert sorted(i for ids in looked_up for i in ids) == sorted(lic.pk for lic in lics)
    looked_up.clear()
    assert expiry_reminders(today=date(2026, 9, 14)) == 0  # each chunk finds its own sent
    assert [len(ids) for ids in looked_up] == [2, 2, 1]
