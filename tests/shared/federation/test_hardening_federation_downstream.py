"""Issue #10 at a city node (郑州, 410100): the hub's downward stream changes only what the hub
owns, and a request token from the hub is good only for the request it was signed for.

The hub's envelopes are real: signed in-process with a key registered here as the hub's, and
posted to the node's `/api/v1/federation/envelopes/`.
"""

import json
import time

import pytest
from django.db import transaction
from django.utils import timezone

from shared.accounts.models import Agency
from shared.catalog.models import LicenseType
from shared.crypto.suites import get_suite
from shared.crypto.tokens import sign_token
from shared.exchange.envelopes import seal
from shared.federation.auth import body_digest
from shared.federation.keys import peer_register
from shared.federation.models import InboundCursor, RejectedEvent
from shared.federation.outbox import license_key, license_payload
from shared.federation.snapshots import type_snapshot
from shared.licenses.models import License, LicenseEvent
from tests.support import make_agency, make_type, make_user, token_client

pytestmark = pytest.mark.django_db

NODE, HUB = "410100", "410000"


@pytest.fixture
def hub(db):
    suite = get_suite("gm")
    key = suite.generate_key()
    public = suite.public_key_of(key)
    kid = suite.key_id(public)
    peer_register(
        code=HUB,
        kid=kid,
        public_key_pem=suite.public_key_to_pem(public).decode(),
        base_url="http://127.0.0.1:9",
    )
    return suite, key, kid


def _envelope(hub, events):
    suite, key, kid = hub
    return seal(
        key=key,
        kid=kid,
        sender=HUB,
        receiver=NODE,
        stream=NODE,
        events=[dict(e, seq=n) for n, e in enumerate(events, start=1)],
        now=timezone.now(),
    )


class _Rollback(Exception):
    pass


@pytest.fixture
def hub_licence_event(issue_payload):
    """A licence issued by a provincial agency at the hub, as the hub pushes it down: with its
    type, and the agency and type unknown here until it arrives."""
    captured = {}
    try:
        with transaction.atomic():
            agency = make_agency(
                "河南省市场监督管理局", body="00009001", area=HUB, level="province", is_issuer=True
            )
            user = make_user("province_issuer", agency)
            hub_type = make_type(user, seq=9, requires_review=False, issuer_level="province")
            body = issue_payload(type_code=hub_type.type_code, number="SJ000001")
            response = token_client(user).post("/api/v1/licenses/", body, format="json")
            assert response.status_code == 201, response.content
            lic = License.objects.get(identifier=response.json()["identifier"])
            payload = license_payload(lic, lic.events.get(seq=1), new_version=True)
            payload["license"]["library_code"] = HUB
            payload["type"] = type_snapshot(hub_type)
            captured["event"] = {
                "kind": "license.event",
                "key": license_key(lic),
                "payload": payload,
            }
            raise _Rollback
    except _Rollback:  # undone: this node lacks the hub's licence, agency and type
        pass
    return captured["event"]


def _state():
    return (
        sorted(License.objects.values_list("identifier", "status", "holder_name", "library_code")),
        LicenseEvent.objects.count(),
        sorted(LicenseType.objects.values_list("type_code", "name", "issuer_id")),
        sorted(Agency.objects.values_list("code", "name")),
    )


def test_the_hubs_downward_stream_changes_only_what_the_hub_owns(
    client, hub, issuer, issue_payload, license_type, hub_licence_event
):
    # given: a licence this node issued, its type and its agency (all the node's)
    ident = issuer.post("/api/v1/licenses/", issue_payload(), format="json").json()["identifier"]
    lic = License.objects.get(identifier=ident)
    mine = license_payload(lic, lic.events.get(seq=1), new_version=False)
    mine["license"].update(status="revoked", last_event_seq=2)
    mine["license"]["holder"]["name"] = "伪造的持证人"
    mine["event"].update(seq=2, action="revoke", from_status="valid", to_status="revoked")
    claimed = json.loads(json.dumps(mine))
    claimed["license"]["library_code"] = HUB  # claiming the node's licence as the hub's
    with_my_type = json.loads(json.dumps(hub_licence_event))
    with_my_type["payload"]["type"] = type_snapshot(license_type) | {"name": "被改名的类型"}
    with_my_type["payload"]["license"]["type_code"] = license_type.type_code
    before = _state()
    # when: the hub's envelope carries them, and one licence of its own
    response = client.post(
        "/api/v1/federation/envelopes/",
        _envelope(
            hub,
            [
                {"kind": "license.event", "key": "k", "payload": mine},
                {"kind": "license.event", "key": "k", "payload": claimed},
                with_my_type,
                hub_licence_event,
            ],
        ),
        content_type="application/json",
    )
    # then
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["applied"], body["high_water_mark"]) == (1, 4)
    assert [(r["seq"], r["code"]) for r in body["rejected"]] == [
        (1, "federation.not_owner"),
        (2, "federation.not_owner"),
        (3, "federation.not_owner"),
    ]
    lic.refresh_from_db()
    assert (lic.status, lic.holder_name, lic.library_code) == (
        "valid",
        "郑州豫中食品有限公司",
        NODE,
    )
    license_type.refresh_from_db()
    assert license_type.name != "被改名的类型"
    arrived = License.objects.get(library_code=HUB)
    assert (
        arrived.issuer.level == "province" and arrived.license_type.issuer_id == arrived.issuer_id
    )
    after = _state()
    assert after[0] == sorted(
        before[0] + [(arrived.identifier, arrived.status, arrived.holder_name, HUB)]
    )
    assert after[1] == before[1] + 1
    assert RejectedEvent.objects.filter(sender=HUB, error_code="federation.not_owner").count() == 3
    assert InboundCursor.objects.get(sender=HUB).high_water_mark == 4


def _token(hub, method, path, body=b""):
    suite, key, kid = hub
    now = int(time.time())
    claims = {
        "iss": HUB,
        "aud": NODE,
        "iat": now,
        "exp": now + 120,
        "htm": method,
        "htu": path,
        "bdh": body_digest(body),
    }
    return sign_token(suite=suite, key=key, kid=kid, claims=claims)


RESEND = "/api/v1/federation/resend/"


def test_a_hub_token_for_a_file_cannot_order_a_resend(client, hub):
    body = json.dumps({"keys": ["x.y.z"]}).encode()
    good = client.generic(
        "POST",
        RESEND,
        body,
        content_type="application/json",
        HTTP_X_EXCHANGE_TOKEN=_token(hub, "POST", RESEND, body),
    )
    assert good.status_code == 200 and good.json() == {"queued": 0, "types_queued": 0}
    file_token = _token(hub, "GET", "/api/v1/federation/files/" + "a" * 64)
    replayed = client.generic(
        "POST", RESEND, body, content_type="application/json", HTTP_X_EXCHANGE_TOKEN=file_token
    )
    assert replayed.status_code == 401
    assert replayed.json()["code"] == "exchange.token_mismatch"
    # the resend token with another list of keys
    other = json.dumps({"keys": ["a.b.c", "d.e.f"]}).encode()
    swapped = client.generic(
        "POST",
        RESEND,
        other,
        content_type="application/json",
        HTTP_X_EXCHANGE_TOKEN=_token(hub, "POST", RESEND, body),
    )
    assert swapped.status_code == 401 and swapped.json()["code"] == "exchange.token_mismatch"
