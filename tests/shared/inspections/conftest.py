"""Annual inspection fixtures: a type with a window, licences issued at a chosen moment, the
holder signed in to the portal with a one-time code, staff clients, materials.

The clock is moved with time-machine (`at`): licences are issued before a window, holders
submit in it or after it, beat runs when it has closed. Staff clients authenticate per request
(`force_authenticate`): a token issued at one moment would have expired at a later one.
"""

from binascii import unhexlify
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django_otp.oath import totp
from rest_framework.test import APIClient

from shared.access.portal import holder_create
from shared.accounts.models import User
from shared.licenses.issuing import license_issue
from shared.licenses.models import License
from shared.licenses.validation import Holder
from tests.support import make_type, make_uscc

TZ = ZoneInfo("Asia/Shanghai")
TOTP_KEY = "3132333435363738393031323334353637383930"  # RFC 6238's test key, hex
PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(32))
HOLDER_CODE = make_uscc(dept="91", area="410100", body="MA3X7Y8L")
OTHER_HOLDER_CODE = make_uscc(dept="91", area="410100", body="MA3X7Y9Q")


def at(year: int, month: int, day: int, hour: int = 10):
    """Travel to that moment (Asia/Shanghai), the clock stopped."""
    return time_machine.travel(datetime(year, month, day, hour, tzinfo=TZ), tick=False)


@pytest.fixture
def inspection_type(issuer_user):
    """Published, window 1 January – 30 June."""
    return make_type(
        issuer_user,
        seq=5,
        requires_review=False,
        name="特种行业许可证",
        annual_inspection=True,
        inspection_window_start="01-01",
        inspection_window_end="06-30",
    )


def issue(actor: User, license_type, *, number: str, code: str = HOLDER_CODE) -> License:
    """A licence issued now (wrap in `at(...)` to choose when), valid for three years."""
    today = date.today()
    return license_issue(
        actor=actor,
        type_code=license_type.type_code,
        number=number,
        holder=Holder(name="郑州豫中食品有限公司", code=code, code_type="001"),
        valid_from=today,
        valid_to=today + timedelta(days=1000),
        mode="online",
        case_completed_at=datetime.now(TZ) - timedelta(minutes=5),
        matter_code="M0001",
        surface={"经营者名称": "郑州豫中食品有限公司", "经营项目": "旅馆业"},
    )


@pytest.fixture
def holder_user(db):
    user, _ = holder_create(
        username="holder_1",
        password="Holder-12345",
        display_name="郑州豫中食品有限公司",
        holder_code=HOLDER_CODE,
        holder_code_type="001",
        totp_key=TOTP_KEY,
    )
    return user


def holder_browser(username: str = "holder_1") -> Client:
    """The holder signed in to the portal now (password and the current one-time code)."""
    browser = Client()
    code = f"{totp(unhexlify(TOTP_KEY)):06d}"
    response = browser.post(
        "/holder/login/", {"username": username, "password": "Holder-12345", "otp_token": code}
    )
    assert response.status_code == 302, response.content.decode()[:300]
    return browser


def holder_api(username: str = "holder_1") -> APIClient:
    """An API client on the holder's portal session."""
    client = APIClient()
    client.cookies = holder_browser(username).cookies
    return client


def staff(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def submit(client, identifier: str, *, year=None, files=(("营业执照.pdf", PDF),), note=""):
    body = {
        "identifier": identifier,
        "note": note,
        "attachments": [SimpleUploadedFile(name, content) for name, content in files],
    }
    if year is not None:
        body["year"] = year
    return client.post("/api/v1/inspections/", body, format="multipart")


def events(lic: License) -> list[tuple]:
    return [
        (e.action, e.from_status, e.to_status, e.reason, e.data) for e in lic.events.order_by("seq")
    ]
