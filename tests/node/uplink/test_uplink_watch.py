"""The holder watch at a city (issue #14 item 5): a holder subscribes and cancels in the portal,
each going up to the hub in the same transaction, once; the hub's `watch.alert` is stored once
however often delivered, listed in the portal with 发证库/发证单位/事件/时间 and told to the holder
through `notify`; an alert from anyone but the hub, or for another library's watch, is refused
and changes nothing."""

from binascii import unhexlify

import pytest
from django.apps import apps
from django.test import Client
from django.utils import timezone
from django_otp.oath import totp

from municipal_node.uplink.watch import apply_watch_alert
from shared.access.portal import holder_create
from shared.audit.models import AuditEntry
from shared.federation.apply import HANDLERS
from shared.federation.ingest import _apply_one
from shared.federation.models import OutboxEvent, RejectedEvent
from shared.watch.models import Watch, WatchAlert
from tests.notify_support import notify_calls_fixture  # noqa: F401
from tests.support import make_uscc

pytestmark = pytest.mark.django_db
HUB, ZZ, LY = "410000", "410100", "410300"
KEY = "3132333435363738393031323334353637383930"
CODE = make_uscc(dept="91", area=ZZ, body="WATCH001")


@pytest.fixture
def holder_user(db):
    user, _ = holder_create(
        username="holder_watch",
        password="Holder-12345",
        display_name="郑州豫中食品有限公司",
        holder_code=CODE,
        holder_code_type="001",
        totp_key=KEY,
    )
    return user


@pytest.fixture
def holder_client(holder_user):
    client = Client()
    response = client.post(
        "/holder/login/",
        {
            "username": "holder_watch",
            "password": "Holder-12345",
            "otp_token": f"{totp(unhexlify(KEY)):06d}",
        },
    )
    assert response.status_code == 302
    return client


def up(kind):
    return list(OutboxEvent.objects.filter(kind=kind).values_list("stream", "key", "payload"))


@pytest.fixture
def watch(holder_client):
    assert holder_client.post("/holder/watch/subscribe/").status_code == 302
    return Watch.objects.get()


def alert(watch_id, hit_id=41, **overrides):
    body = {
        "id": hit_id,
        "watch": str(watch_id),
        "kind": "issued",
        "action": "issue",
        "action_label": "签发",
        "identifier": "1.2.156.3005.2.11100000000013338W007.11410300000030013B.2025000001.001.X",
        "type_code": "11100000000013338W007",
        "type_name": "食品经营许可证",
        "library_code": LY,
        "library_name": "洛阳市电子证照库",
        "issuer_code": "11410300000030013B",
        "issuer_name": "洛阳市市场监督管理局",
        "agency_name": "",
        "occurred_at": timezone.now().isoformat(),
    }
    return {"schema": 1, "alert": body | overrides}


def deliver(sender, payload, seq=1):
    return _apply_one(sender, {"seq": seq, "kind": "watch.alert", "key": "k", "payload": payload})


def test_a_holder_subscribes_and_the_watch_goes_up_once(holder_client, holder_user):
    # when: the holder turns the watch on, twice
    for _ in range(2):
        assert holder_client.post("/holder/watch/subscribe/").status_code == 302
    # then: one active watch of this library, one subscription up to the hub, one audit row
    watch = Watch.objects.get()
    assert (watch.home_library, watch.state, watch.holder_code) == (ZZ, "active", CODE)
    [(stream, key, payload)] = up("watch.subscribe")
    assert (stream, key) == (HUB, str(watch.pk))
    assert payload["watch"]["holder"] == {
        "name": "郑州豫中食品有限公司",
        "code": CODE,
        "code_type": "001",
    }
    assert AuditEntry.objects.filter(action="watch.subscribe").count() == 1
    page = holder_client.get("/holder/watch/").content.decode()
    assert "监视中" in page
    assert "取消监视" in page


def test_a_holder_of_another_city_is_sent_home_and_nothing_changes(client):
    # given: a holder signed in at 郑州 whose credit code names 洛阳
    holder_create(
        username="holder_ly",
        password="Holder-12345",
        display_name="洛阳某企业",
        holder_code=make_uscc(dept="91", area=LY, body="WATCH009"),
        holder_code_type="001",
        totp_key=KEY,
    )
    otp = f"{totp(unhexlify(KEY)):06d}"
    client.post(
        "/holder/login/", {"username": "holder_ly", "password": "Holder-12345", "otp_token": otp}
    )
    # when: the holder turns the watch on here
    assert client.post("/holder/watch/subscribe/").status_code == 302
    # then: told where to subscribe; no watch, nothing sent, nothing audited
    assert "所属地市的证照库订阅" in client.get("/holder/watch/").content.decode()
    assert not Watch.objects.exists()
    assert up("watch.subscribe") == []
    assert not AuditEntry.objects.filter(action="watch.subscribe").exists()


def test_a_holder_cancels_once(holder_client, watch):
    # when: the holder cancels
    assert holder_client.post("/holder/watch/cancel/").status_code == 302
    # then: cancelled here, cancelled up at the hub
    watch.refresh_from_db()
    assert watch.state == "cancelled"
    assert [(s, k) for s, k, _ in up("watch.cancel")] == [(HUB, str(watch.pk))]
    # when: cancelling again — nothing to cancel: said, nothing changed
    holder_client.post("/holder/watch/cancel/")
    page = holder_client.get("/holder/watch/").content.decode()
    assert "您没有正在进行的监视" in page
    assert len(up("watch.cancel")) == 1
    assert AuditEntry.objects.filter(action="watch.cancel").count() == 1


def test_an_alert_is_stored_once_listed_and_told(holder_client, watch, notify_calls):
    # when: the hub's alert arrives twice (a redelivery under a new sequence number)
    assert deliver(HUB, alert(watch.pk)) is None
    assert deliver(HUB, alert(watch.pk), seq=2) is None
    # then: one alert, the holder told once through notify
    row = WatchAlert.objects.get()
    assert (row.origin_library, row.origin_id, row.kind, row.library_code) == (
        HUB,
        41,
        "issued",
        LY,
    )
    assert len(notify_calls) == 1
    call = notify_calls[0]
    assert (call["event"], call["users"], call["link"]) == (
        "watch.alert",
        ["holder_watch"],
        "/holder/watch/",
    )
    assert call["dedupe_key"] == f"watch.alert:{HUB}:41"
    assert "洛阳市市场监督管理局" in call["subject"]
    assert "食品经营许可证" in call["body"]
    # and the portal lists it with 发证库, 发证单位, 事件 and 时间
    page = holder_client.get("/holder/watch/").content.decode()
    for text in (
        "洛阳市电子证照库",
        "洛阳市市场监督管理局",
        "签发",
        row.identifier,
        '<th scope="col">时间</th>',
    ):
        assert text in page


def test_an_alert_not_from_the_hub_or_not_for_a_watch_here_changes_nothing(watch, notify_calls):
    # when: 洛阳 sends an alert, and the hub one for a watch this library does not hold
    forged = deliver(LY, alert(watch.pk))
    unknown = deliver(HUB, alert("0b6f7a1c-2d3e-4f50-9a6b-7c8d9e0f1a2b"), seq=2)
    # then: both refused as not the sender's, nothing stored, nobody told
    assert (forged["code"], unknown["code"]) == ("federation.not_owner", "federation.not_owner")
    assert not WatchAlert.objects.exists()
    assert notify_calls == []
    assert RejectedEvent.objects.filter(kind="watch.alert").count() == 2


def test_an_alert_after_the_watch_was_cancelled_is_dropped(holder_client, watch, notify_calls):
    holder_client.post("/holder/watch/cancel/")
    assert deliver(HUB, alert(watch.pk)) is None
    assert not WatchAlert.objects.exists()
    assert notify_calls == []


def test_a_malformed_alert_is_dead_lettered(watch, notify_calls):
    bad = deliver(HUB, alert(watch.pk, kind="bogus"))
    naive = deliver(HUB, alert(watch.pk, occurred_at="2025-01-01T10:00:00"), seq=2)
    assert (bad["code"], naive["code"]) == ("watch.payload_invalid", "watch.payload_invalid")
    assert not WatchAlert.objects.exists()
    assert notify_calls == []


def test_a_city_applies_alerts_and_none_of_the_hubs_watch_messages():
    assert not apps.is_installed("provincial_hub.watch")
    assert HANDLERS["watch.alert"] is apply_watch_alert
    assert {"watch.subscribe", "watch.cancel"}.isdisjoint(HANDLERS)


def test_the_page_needs_a_signed_in_holder(client):
    response = client.get("/holder/watch/")
    assert response.status_code == 302
    assert response["Location"].startswith("/holder/login/")
    assert client.post("/holder/watch/subscribe/").status_code == 302
    assert not Watch.objects.exists()
