"""The holder watch across the province (issue #14 item 5), over real HTTP between the hub, 郑州
and 洛阳: 郑州's holder turns the watch on in 郑州's portal and the hub holds it; a licence 洛阳
issues under that holder's identity reaches the holder's watch at 郑州 once — listed in the
portal with 洛阳 as the issuing library and its agency — and a redelivery changes nothing; a
licence 洛阳 issues for a different holder reaches nobody's watch. Runs on the folder's one
started province (conftest.py); the steps run in order."""

import base64
import re
from datetime import timedelta

import pytest
import requests
from django.utils import timezone
from django_otp.oath import totp

from shared.demo.data import make_citizen_id
from tests.federation.harness import wait_until

ALERTS = "SELECT identifier, library_code, issuer_name, kind FROM watch_watchalert"


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def _csrf(session, url):
    page = session.get(url, timeout=10)
    assert page.status_code == 200, page.text[:500]
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)


@pytest.fixture(scope="module")
def portal(fed):
    """郑州's holder signed in to 郑州's portal (password and one-time code)."""
    zz = fed["410100"]
    holder = zz.credentials()["holder"]
    session = requests.Session()
    secret = holder["totp_secret"]
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    response = session.post(
        f"{zz.url}/holder/login/",
        data={
            "username": holder["username"],
            "password": holder["password"],
            "otp_token": f"{totp(key):06d}",
            "csrfmiddlewaretoken": _csrf(session, f"{zz.url}/holder/login/"),
        },
        headers={"Referer": f"{zz.url}/holder/login/"},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302, response.text[:500]
    return session


def luoyang_issue(ly, holder):
    """洛阳's issuer issues its personal licence type to `holder`; the identifier."""
    creds = ly.credentials()["issuer"]
    types = [
        requests.get(
            f"{ly.url}/api/v1/catalog/types/{code}/", headers=auth(creds["token"]), timeout=10
        ).json()
        for code in creds["type_codes"]
    ]
    personal = next(t for t in types if t["holder_category"] == "person")
    today = timezone.localdate()
    response = requests.post(
        f"{ly.url}/api/v1/licenses/",
        json={
            "type_code": personal["type_code"],
            "number": f"LYW{holder['code'][-8:]}",
            "holder": holder,
            "valid_from": today.isoformat(),
            "valid_to": (today + timedelta(days=365)).isoformat(),
            "mode": "online",
            "case_completed_at": timezone.now().isoformat(),
            "surface": {name: "监视测试" for name in personal["surface_schema"]["required"]},
        },
        headers=auth(creds["token"]),
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return response.json()["identifier"]


def test_a_zhengzhou_holder_turns_the_watch_on_and_the_hub_holds_it(fed, portal):
    hub, zz = fed["hub"], fed["410100"]
    # when: the holder turns the watch on in 郑州's portal
    response = portal.post(
        f"{zz.url}/holder/watch/subscribe/",
        data={"csrfmiddlewaretoken": _csrf(portal, f"{zz.url}/holder/watch/")},
        headers={"Referer": f"{zz.url}/holder/watch/"},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302, response.text[:500]
    # then: 郑州 holds one active watch, and so does the hub, under the same id, home 郑州
    [(watch_id,)] = zz.sql("SELECT id::text FROM watch_watch WHERE state = 'active'")
    wait_until(
        lambda: (
            hub.sql("SELECT id::text, home_library FROM watch_watch WHERE state = 'active'")
            == [(watch_id, "410100")]
        ),
        timeout=60,
        message="the watch registered at the hub",
    )
    assert "监视中" in portal.get(f"{zz.url}/holder/watch/", timeout=10).text


def test_a_luoyang_licence_in_the_holders_name_reaches_the_watch_once(fed, portal):
    hub, zz, ly = fed["hub"], fed["410100"], fed["410300"]
    holder = zz.credentials()["holder"]
    # when: 洛阳 issues a licence under the 郑州 holder's identity, and one for someone else
    watched = luoyang_issue(
        ly, {"name": holder["name"], "code": holder["holder_code"], "code_type": "111"}
    )
    stranger = make_citizen_id(area="410102", birth="19880516", seq="027")
    other = luoyang_issue(ly, {"name": "李娜", "code": stranger, "code_type": "111"})
    # then: the alert reaches 郑州's watch: 洛阳 as the issuing library, with its agency
    wait_until(
        lambda: zz.sql(ALERTS + " WHERE identifier = %s", (watched,)) != [],
        timeout=120,
        message="the alert at 郑州",
    )
    [(identifier, library, issuer_name, kind)] = zz.sql(ALERTS)
    assert (identifier, library, kind) == (watched, "410300", "issued")
    assert issuer_name
    # and the other holder's licence, at the hub too, matched nothing
    wait_until(lambda: hub.count("identifier = %s", (other,)) == 1, timeout=60, message="other")
    assert hub.sql("SELECT identifier FROM hub_watch_watchhit") == [(watched,)]
    # and the portal lists it
    page = portal.get(f"{zz.url}/holder/watch/", timeout=10).text
    assert watched in page
    assert "洛阳市电子证照库" in page
    assert issuer_name in page


def test_a_second_delivery_of_the_alert_changes_nothing(fed):
    hub, zz = fed["hub"], fed["410100"]
    # when: the hub sends the same alert again (a new outbox row, the same hit)
    hub.manage(
        "shell",
        "-c",
        "from django.db import transaction; from shared.federation.models import OutboxEvent; "
        "from shared.federation.outbox import outbox_write; "
        "e = OutboxEvent.objects.get(stream='410100', kind='watch.alert'); "
        "transaction.atomic(lambda: outbox_write(stream=e.stream, kind=e.kind, key=e.key, "
        "payload=e.payload))()",
    )
    wait_until(
        lambda: (
            hub.sql(
                "SELECT count(*) FROM federation_outboxevent WHERE stream = '410100'"
                " AND kind = 'watch.alert' AND state = 'acknowledged'"
            )
            == [(2,)]
        ),
        timeout=60,
        message="the second delivery acknowledged",
    )
    # then: still one alert at 郑州, nothing dead-lettered
    assert zz.sql("SELECT count(*) FROM watch_watchalert") == [(1,)]
    assert zz.sql("SELECT count(*) FROM federation_rejectedevent WHERE kind = 'watch.alert'") == [
        (0,)
    ]
