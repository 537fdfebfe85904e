"""The holder portal (art. 29): password + TOTP, lockout after repeated failures, the holder's
licences, purpose-bound copies, and who used their licences."""

import re
from binascii import unhexlify

import pytest
from django.test import Client
from django_otp.oath import totp

from shared.access.models import AccessRecord
from shared.access.portal import holder_create
from tests.shared.access.conftest import MATTER

pytestmark = pytest.mark.django_db
KEY = "3132333435363738393031323334353637383930"  # RFC 6238's test key, hex


@pytest.fixture
def holder(holder_code):
    user, device = holder_create(
        username="holder_yuzhong",
        password="Holder-12345",
        display_name="郑州豫中食品有限公司",
        holder_code=holder_code,
        holder_code_type="001",
        totp_key=KEY,
    )
    return user


def code_now(offset=0):
    return f"{totp(unhexlify(KEY), drift=offset):06d}"


def sign_in(client, password="Holder-12345", token=None):
    return client.post(
        "/holder/login/",
        {"username": "holder_yuzhong", "password": password, "otp_token": token or code_now()},
    )


def test_holder_signs_in_with_password_and_code_and_sees_who_used_the_licence(
    holder, licence, consumer, granted_consumer, query_body
):
    # given: a consumer used the holder's licence for a matter
    assert consumer.post("/api/v1/share/query/", query_body(), format="json").json()["count"] == 1
    client = Client()
    assert client.get("/holder/").status_code == 302
    # when
    response = sign_in(client)
    # then
    assert response.status_code == 302
    page = client.get("/holder/").content.decode()
    assert licence.identifier in page
    assert "政务服务中心" in page
    assert "办理食品经营许可变更，核验原证" in page
    assert MATTER in page
    assert "914" in page and "*" in page  # the code is shown masked
    assert licence.holder_code not in page
    full = client.get("/holder/accesses/").content.decode()
    assert "查询" in full and "consumer_1" in full


def test_password_alone_is_not_enough(holder):
    client = Client()
    response = sign_in(client, token="000000" if code_now() != "000000" else "111111")
    assert response.status_code == 400
    assert "动态口令错误" in response.content.decode()
    assert client.get("/holder/").status_code == 302


def test_staff_accounts_cannot_use_the_holder_portal(consumer_user):
    client = Client()
    response = client.post(
        "/holder/login/", {"username": "consumer_1", "password": "Secret-12345", "otp_token": "1"}
    )
    assert response.status_code == 400
    # the one answer of every failed sign-in (tests/shared/access/test_hardening_portal.py)
    assert "用户名、密码或动态口令错误" in response.content.decode()


def test_lockout_after_repeated_failures(holder):
    client = Client()
    for _ in range(4):
        assert sign_in(client, password="wrong-password").status_code == 400
    assert sign_in(client, password="wrong-password").status_code == 429  # the fifth locks
    locked = sign_in(client)  # even with the right password and code
    assert locked.status_code == 429
    assert "已暂时锁定" in locked.content.decode()
    assert client.get("/holder/").status_code == 302


def test_holder_shares_a_purpose_bound_copy_and_each_view_is_recorded(holder, licence):
    client = Client()
    sign_in(client)
    response = client.post(
        f"/holder/licences/{licence.identifier}/share/",
        {"use_cause": "申请银行贷款", "recipient": "中原银行", "days": "3"},
    )
    assert response.status_code == 302
    page = client.get("/holder/").content.decode()
    url = re.search(r'href="(http://testserver/holder/s/[^"]+)"', page).group(1)
    public = Client().get(url.removeprefix("http://testserver"))
    assert public.status_code == 200
    text = public.content.decode()
    assert "仅用于：申请银行贷款" in text and licence.number in text
    copies = AccessRecord.objects.filter(operation="copy").order_by("id")
    assert [c.detail["by"] for c in copies] == ["holder", "link"]
    assert all(c.identifier == licence.identifier for c in copies)
    assert Client().get("/holder/s/not-a-token/").status_code == 404


def test_holder_cannot_share_someone_elses_licence(holder, issuer_user, license_type):
    from tests.shared.access.conftest import issue

    foreign = issue(issuer_user, license_type, holder_body="MA5X5Y5L", number="X1")
    client = Client()
    sign_in(client)
    client.post(f"/holder/licences/{foreign.identifier}/share/", {"use_cause": "看看"})
    assert "证照不存在" in client.get("/holder/").content.decode()
    assert not AccessRecord.objects.filter(operation="copy").exists()


def test_holder_session_gets_nothing_from_the_agency_api(holder, licence, query_body):
    client = Client()
    sign_in(client)
    assert client.get("/api/v1/licenses/").json()["results"] == []
    assert client.get("/api/v1/access-log/").json()["results"] == []
    refused = client.post("/api/v1/share/query/", query_body(), content_type="application/json")
    assert refused.status_code == 403
