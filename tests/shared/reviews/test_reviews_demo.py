"""The demo seeds a few open review requests: one fresh, one a working day from its deadline
(reminded), one past it (flagged overdue), and one of the demo holder's; seeding again adds
nothing and writes the same credentials."""

import json

import pytest
from django.core.management import call_command

from shared.reviews.models import ReviewRequest
from tests.shared.reviews.conftest import travel

pytestmark = pytest.mark.django_db


def test_the_demo_has_open_requests_one_near_its_deadline_and_one_overdue(tmp_path):
    path, again = tmp_path / "credentials.json", tmp_path / "again.json"
    with travel("2026-03-04", 9):  # a Wednesday
        call_command("seed_demo", credentials=str(path))
        doc = json.loads(path.read_text(encoding="utf-8"))
        reviews = list(ReviewRequest.objects.order_by("received_at", "requester_kind"))
        call_command("seed_demo", credentials=str(again))
    assert [r.state for r in reviews] == ["open"] * 4
    overdue, near, fresh, holder = reviews
    assert (str(overdue.deadline), overdue.overdue, overdue.reminders_sent) == (
        "2026-03-02",
        True,
        0,
    )
    assert (str(near.deadline), near.overdue, near.reminders_sent) == ("2026-03-05", False, 2)
    assert (fresh.overdue, fresh.reminders_sent, str(fresh.deadline)) == (False, 0, "2026-03-11")
    assert {r.requester_agency_code for r in (overdue, near, fresh)} == {
        doc["consumer"]["agency_code"]
    }
    assert (holder.requester_kind, holder.requester.username) == (
        "holder",
        doc["holder"]["username"],
    )
    assert ReviewRequest.objects.count() == 4
    assert again.read_text(encoding="utf-8") == path.read_text(encoding="utf-8")
