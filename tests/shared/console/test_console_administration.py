"""Library administration in the console: agencies, staff with their one-time-code device,
API tokens shown once and revoked, grants, the exchange queue's retry, working-day
overrides; each through the API's service."""

from datetime import date

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from shared.access.models import Grant
from shared.accounts.models import Agency, ApiToken, User
from shared.calendars.models import WorkdayOverride
from shared.federation.models import OutboxEvent
from tests.console_support import console_client
from tests.shared.access.conftest import MATTER
from tests.support import make_uscc

pytestmark = pytest.mark.django_db


def test_agencies_are_registered_and_refused_inline(admin_console):
    code = make_uscc(dept="11", area="410100", body="00003001")
    created = admin_console.post(
        "/console/admin/agencies/",
        {
            "name": "郑州市卫生健康委员会",
            "code": code,
            "area_code": "410100",
            "kind": "department",
            "level": "city",
            "is_issuer": "on",
        },
    )
    assert created.status_code == 302
    agency = Agency.objects.get(code=code)
    assert agency.is_issuer and not agency.is_consumer
    again = admin_console.post(
        "/console/admin/agencies/",
        {
            "name": "重复",
            "code": code,
            "area_code": "410100",
            "kind": "department",
            "level": "city",
        },
    )
    assert again.status_code == 400 and "已存在" in again.content.decode()
    bad = admin_console.post(
        "/console/admin/agencies/", {"name": "", "code": "1", "area_code": "41"}
    )
    assert bad.status_code == 400 and 'id="f-name-error"' in bad.content.decode()
    assert Agency.objects.filter(name="重复").count() == 0


def test_a_new_member_of_staff_gets_a_one_time_code_device_shown_once(admin_console, issuer_agency):
    response = admin_console.post(
        "/console/admin/users/",
        {
            "username": "issuer_9",
            "display_name": "王芳",
            "password": "Secret-12345",
            "agency": issuer_agency.code,
            "role": "staff",
        },
    )
    text = response.content.decode()
    person = User.objects.get(username="issuer_9")
    assert response.status_code == 200 and 'data-testid="totp-secret"' in text
    assert person.agency == issuer_agency and TOTPDevice.objects.filter(user=person).count() == 1
    assert "data:image/png;base64," in text
    # the list shows the person, never the secret again
    listing = admin_console.get("/console/admin/users/").content.decode()
    assert "issuer_9" in listing and "totp-secret" not in listing


def test_an_agency_admin_manages_only_their_agency(agency_admin, issuer_user, consumer_user):
    client = console_client(agency_admin)
    listing = client.get("/console/admin/users/").content.decode()
    assert "issuer_1" in listing and "consumer_1" not in listing
    assert client.post("/console/admin/users/consumer_1/otp/").status_code == 302
    assert not TOTPDevice.objects.filter(user=consumer_user).exists()
    assert client.get("/console/admin/agencies/").status_code == 403


def test_a_token_is_shown_once_and_can_be_revoked(admin_console, library_admin, issuer_user):
    issued = admin_console.post(
        "/console/admin/tokens/", {"username": "issuer_1", "name": "业务系统对接", "days": "30"}
    )
    text = issued.content.decode()
    token = ApiToken.objects.get(name="业务系统对接")
    assert token.user == issuer_user and 'data-testid="token-secret">elc_' in text
    secret = text.split('data-testid="token-secret">')[1].split("<")[0]
    assert ApiToken.digest_of(secret) == token.digest
    assert secret not in admin_console.get("/console/admin/tokens/").content.decode()
    assert admin_console.post(f"/console/admin/tokens/{token.pk}/revoke/").status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_grants_are_given_and_revoked(admin_console, consumer_agency, license_type):
    given = admin_console.post(
        "/console/admin/grants/",
        {
            "agency_code": consumer_agency.code,
            "type_code": license_type.type_code,
            "matter_code": MATTER,
        },
    )
    assert given.status_code == 302
    grant = Grant.objects.get(agency=consumer_agency)
    assert grant.revoked_at is None and grant.matter_code == MATTER
    twice = admin_console.post(
        "/console/admin/grants/",
        {
            "agency_code": consumer_agency.code,
            "type_code": license_type.type_code,
            "matter_code": MATTER,
        },
    )
    assert twice.status_code == 400 and "已有" in twice.content.decode()
    admin_console.post(f"/console/admin/grants/{grant.pk}/revoke/")
    grant.refresh_from_db()
    assert grant.revoked_at is not None


def test_failed_and_dead_deliveries_are_listed_and_retried(admin_console):
    failed = OutboxEvent.objects.create(
        stream="410000",
        seq=1,
        kind="license.upsert",
        key="k1",
        payload={},
        state="failed",
        attempts=3,
        last_error="连接被拒绝",
    )
    dead = OutboxEvent.objects.create(
        stream="410000",
        seq=2,
        kind="license.upsert",
        key="k2",
        payload={},
        state="dead",
        attempts=20,
    )
    done = OutboxEvent.objects.create(
        stream="410000", seq=3, kind="license.upsert", key="k3", payload={}, state="acknowledged"
    )
    page = admin_console.get("/console/admin/outbox/").content.decode()
    assert "连接被拒绝" in page and "死信" in page and f'value="{done.pk}"' not in page
    nothing = admin_console.post("/console/admin/outbox/retry/", {"scope": "selected"})
    assert nothing.status_code == 302
    failed.refresh_from_db()
    assert failed.state == "failed"
    admin_console.post("/console/admin/outbox/retry/", {"scope": "selected", "ids": [failed.pk]})
    failed.refresh_from_db()
    dead.refresh_from_db()
    assert (failed.state, failed.attempts, dead.state) == ("pending", 0, "dead")
    admin_console.post("/console/admin/outbox/retry/", {"scope": "all"})
    dead.refresh_from_db()
    assert dead.state == "pending"


def test_working_day_overrides_are_set_and_removed(admin_console):
    admin_console.post(
        "/console/admin/workdays/", {"day": "2027-02-20", "is_workday": "1", "note": "春节调休上班"}
    )
    row = WorkdayOverride.objects.get(day=date(2027, 2, 20))
    assert row.is_workday and row.note == "春节调休上班"
    bad = admin_console.post("/console/admin/workdays/", {"day": "2027-02-30", "is_workday": "0"})
    assert bad.status_code == 400 and "不是有效日期" in bad.content.decode()
    admin_console.post(f"/console/admin/workdays/{row.pk}/delete/")
    assert not WorkdayOverride.objects.exists()
