"""The hub's statistics: licences of the cities arrive in real signed envelopes from 洛阳, as a
node's relay sends them; the access fixtures give each test an empty log."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from shared.crypto.suites import get_suite
from shared.exchange.envelopes import seal
from shared.federation.keys import peer_register
from shared.federation.outbox import license_key, license_payload
from shared.licenses.models import License
from tests.shared.statistics.conftest import *  # noqa: F403
from tests.support import make_agency, make_type, make_uscc, make_user, token_client

LY, HUB = "410300", "410000"


class _Rollback(Exception):
    pass


@pytest.fixture
def luoyang(db):
    """洛阳's exchange key registered at the hub, its issuing agency and type as the hub holds
    them, and a client of that agency's staff (used only to build 洛阳's payloads)."""
    suite = get_suite("gm")
    key = suite.generate_key()
    public = suite.public_key_of(key)
    kid = suite.key_id(public)
    peer_register(
        code=LY,
        kid=kid,
        public_key_pem=suite.public_key_to_pem(public).decode(),
        base_url="http://127.0.0.1:9",
    )
    agency = make_agency("洛阳市市场监督管理局", body="00003001", area=LY, is_issuer=True)
    user = make_user("ly_issuer", agency)
    return {
        "key": key,
        "kid": kid,
        "agency": agency,
        "type": make_type(user, seq=7, requires_review=False),
        "client": token_client(user),
    }


def luoyang_licences(luoyang, issue_payload, bodies):
    """The `license.event` payloads of 洛阳 issuing `bodies`, written as 洛阳 would (the rows
    are rolled back here: the hub lacks these licences, as it lacks a city's new ones)."""
    captured = []
    try:
        with transaction.atomic():
            for i, overrides in enumerate(bodies):
                body = issue_payload(
                    type_code=luoyang["type"].type_code,
                    number=f"LY{i:06d}",
                    holder={
                        "name": f"洛阳持证企业{i}",
                        "code": make_uscc(dept="91", area=LY, body=f"LA{i:06d}"),
                        "code_type": "001",
                    },
                    **overrides,
                )
                response = luoyang["client"].post("/api/v1/licenses/", body, format="json")
                assert response.status_code == 201, response.json()
                lic = License.objects.get(identifier=response.json()["identifier"])
                payload = license_payload(lic, lic.events.get(seq=1), new_version=True)
                payload["license"]["library_code"] = LY
                captured.append(
                    {"kind": "license.event", "key": license_key(lic), "payload": payload}
                )
            raise _Rollback
    except _Rollback:
        pass
    return [dict(e, seq=n) for n, e in enumerate(captured, start=1)]


def send(anon, luoyang, events):
    envelope = seal(
        key=luoyang["key"],
        kid=luoyang["kid"],
        sender=LY,
        receiver=HUB,
        stream=HUB,
        events=events,
        now=timezone.now(),
    )
    response = anon.post("/api/v1/exchange/envelopes/", envelope, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["applied"] == len(events), response.json()


def long_ago():
    return (timezone.now() - timedelta(days=30)).isoformat()
