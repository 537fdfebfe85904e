"""The hub's console: the 18 cities at a glance with their health (the selector behind
/api/v1/aggregation/nodes/), licences aggregated per day, one city's deliveries, dead
letters, reconciliation runs and remote files with retry."""

from datetime import timedelta

import pytest
from django.utils import timezone

from provincial_hub.aggregation.models import RemoteFile
from shared.conf.divisions import CITIES
from shared.federation.models import Arrival, InboundCursor, ReceivedEnvelope, RejectedEvent
from tests.console_support import console_client

pytestmark = pytest.mark.django_db


def arrival(key, city, *, late=False, lag=3.0):
    now = timezone.now()
    return Arrival.objects.create(
        key=key,
        library_code=city,
        issuer_code="11410100MB0000001X",
        mode="online",
        case_completed_at=now - timedelta(minutes=1),
        committed_at=now - timedelta(seconds=lag),
        arrived_at=now,
        lag_seconds=lag,
        deadline_at=now + timedelta(minutes=1),
        late=late,
    )


def test_the_dashboard_shows_every_city_coloured_by_its_health(operator_console):
    # given: 郑州 in good order, 洛阳 behind, 开封 refusing
    InboundCursor.objects.create(
        sender="410100",
        high_water_mark=12,
        last_event_at=timezone.now(),
        last_envelope_at=timezone.now(),
    )
    arrival("k1", "410100")
    InboundCursor.objects.create(
        sender="410300", high_water_mark=3, backlog=40, last_envelope_at=timezone.now()
    )
    arrival("k2", "410300", late=True)
    RejectedEvent.objects.create(
        sender="410200",
        seq=5,
        kind="license.upsert",
        key="k",
        error_code="federation.not_owner",
        error_message="不是该市的证照",
        payload={},
    )
    # when
    page = operator_console.get("/console/hub/").content.decode()
    # then
    for code, name in CITIES.items():
        assert f'data-city="{code}"' in page and name in page
    assert 'class="card city healthy" data-city="410100"' in page
    assert 'class="card city late" data-city="410300"' in page
    assert 'class="card city failing" data-city="410200"' in page
    assert 'class="card city idle" data-city="411700"' in page
    today = timezone.localdate().strftime("%m-%d")
    assert f"<title>{today}：2 件</title>" in page  # both arrivals in today's bar


def test_a_city_shows_its_deliveries_dead_letters_and_files(operator_console):
    ReceivedEnvelope.objects.create(
        envelope_id="e1",
        sender="410100",
        outcome="refused",
        error_code="exchange.signature",
        error_message="签名无效",
    )
    RejectedEvent.objects.create(
        sender="410100",
        seq=9,
        kind="license.upsert",
        key="1.2.156.3005.2.x",
        error_code="federation.not_owner",
        error_message="不是该市的证照",
        payload={},
    )
    failed = RemoteFile.objects.create(
        node="410100",
        identifier="1.2.156.3005.2.y",
        version=1,
        variant="pdf",
        sm3="a" * 64,
        size=10,
        state="failed",
        attempts=12,
        last_error="连接超时",
    )
    page = operator_console.get("/console/hub/cities/410100/").content.decode()
    assert "签名无效" in page and "不是该市的证照" in page and "连接超时" in page
    assert operator_console.get("/console/hub/cities/999999/").status_code == 404
    # retry: the failed fetch is due again
    assert (
        operator_console.post(
            "/console/hub/cities/410100/files/retry/", {"ids": [failed.pk]}
        ).status_code
        == 302
    )
    failed.refresh_from_db()
    assert (failed.state, failed.attempts) == ("pending", 0)


def test_a_reconciliation_with_an_unregistered_city_is_refused_on_the_page(operator_console):
    response = operator_console.post("/console/hub/cities/410500/reconcile/", follow=True)
    assert "交换对端未登记" in response.content.decode()


def test_only_the_operator_opens_the_hub_screens(issuer_user, operator_console):
    staff = console_client(issuer_user)
    assert staff.get("/console/hub/").status_code == 403
    assert staff.post("/console/hub/cities/410100/files/retry/").status_code == 403
    assert "/console/hub/" in operator_console.get("/console/").content.decode()


def test_the_city_page_shows_what_each_run_repaired_and_in_which_direction(operator_console):
    from shared.federation.models import ReconcileRun

    ReconcileRun.objects.create(
        scope="410100",
        peer="410100",
        state=ReconcileRun.State.DONE,
        differences=3,
        repaired=3,
        repairs=[
            {"kind": "license", "direction": "down", "action": "resent", "count": 2, "keys": []},
            {"kind": "file", "direction": "up", "action": "refetched", "count": 1, "keys": []},
        ],
    )
    page = operator_console.get("/console/hub/cities/410100/").content.decode()
    assert "修复明细（方向）" in page
    assert "证照·下行（枢纽→城市）·由签发方重发 2" in page
    assert "文件·上行（城市→枢纽）·重新获取 1" in page
