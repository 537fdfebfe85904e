"""Fixtures for the review-request tests: the access fixtures (a clean access log per test,
grants, issued licences), a holder signed in to the portal, the supervisor, and the clock.

The clock is moved with time-machine: every test that depends on dates travels first and then
issues its licences and grants inside the travel, so nothing "from the future" is around.
"""

from binascii import unhexlify
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django_otp.oath import totp

from shared.access.portal import holder_create
from shared.federation.models import OutboxEvent
from shared.reviews.models import ReviewRequest
from tests.shared.access.conftest import *  # noqa: F403
from tests.shared.access.conftest import MATTER, grant, issue
from tests.support import make_agency, make_user, token_client

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOLDER_KEY = "3132333435363738393031323334353637383930"  # RFC 6238's test key, hex
REASON = "照面上的经营项目与营业执照不一致，请核实更正"
CAUSE = "办理食品经营许可变更，核验原证"


def at(day: date | str, hour: int = 10, minute: int = 0) -> datetime:
    """A moment on `day` in Asia/Shanghai."""
    day = date.fromisoformat(day) if isinstance(day, str) else day
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


def travel(day: date | str, hour: int = 10, minute: int = 0):
    return time_machine.travel(at(day, hour, minute), tick=False)


def body(identifier: str, **overrides) -> dict:
    data = {
        "identifier": identifier,
        "reason": REASON,
        "fields": ["经营项目"],
        "matter_code": MATTER,
        "use_cause": CAUSE,
    }
    data.update(overrides)
    return data


def review_outbox() -> list[OutboxEvent]:
    return list(OutboxEvent.objects.filter(kind="review.update").order_by("seq"))


def state_of(review_id) -> dict:
    """What a refused change must leave as it was."""
    row = ReviewRequest.objects.get(pk=review_id)
    return {
        "state": row.state,
        "revision": row.revision,
        "answered_at": row.answered_at,
        "answer_reason": row.answer_reason,
        "overdue": row.overdue,
        "reminders_sent": row.reminders_sent,
        "outbox": OutboxEvent.objects.count(),
        "reminders": row.reminders.count(),
    }


@pytest.fixture
def granted(consumer_agency, license_type):
    return grant(consumer_agency, license_type)


@pytest.fixture
def lic(issuer_user, license_type):
    return issue(issuer_user, license_type)


@pytest.fixture
def filed(consumer, granted, lic):
    """An open request of the consumer about `lic`, filed now."""
    response = consumer.post("/api/v1/reviews/", body(lic.identifier), format="json")
    assert response.status_code == 201, response.json()
    return response.json()


@pytest.fixture
def supervisor_user(db):
    agency = make_agency("河南省发展和改革委员会", body="00009001", area="410000", level="province")
    return make_user("supervisor_1", agency, role="supervisor")


@pytest.fixture
def supervisor(supervisor_user):
    return token_client(supervisor_user)


@pytest.fixture
def holder_user(holder_code):
    user, _ = holder_create(
        username="holder_yuzhong",
        password="Holder-12345",
        display_name="郑州豫中食品有限公司",
        holder_code=holder_code,
        holder_code_type="001",
        totp_key=HOLDER_KEY,
    )
    return user


@pytest.fixture
def holder_client(holder_user):
    """A browser signed in to the holder portal with password and one-time code."""
    client = Client()
    code = f"{totp(unhexlify(HOLDER_KEY)):06d}"
    response = client.post(
        "/holder/login/",
        {"username": "holder_yuzhong", "password": "Holder-12345", "otp_token": code},
    )
    assert response.status_code == 302
    return client
