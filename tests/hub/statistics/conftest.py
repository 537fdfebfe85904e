"""The hub's statistics: licences of the cities arrive in real signed envelopes from 洛阳, as a
node's relay sends them; the access fixtures give each test an empty log."""

from datetime import timedelta

import pytest
from django.utils import timezone

from shared.crypto.suites import get_suite
from shared.exchange.envelopes import seal
from shared.federation.keys import peer_register
from tests.shared.statistics.conftest import *  # noqa: F403
from tests.support import issued_events, make_agency, make_type, make_uscc, make_user, token_client

LY, HUB = "410300", "410000"


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
    bodies = [
        issue_payload(
            type_code=luoyang["type"].type_code,
            number=f"LY{i:06d}",
            holder={
                "name": f"洛阳持证企业{i}",
                "code": make_uscc(dept="91", area=LY, body=f"LA{i:06d}"),
                "code_type": "001",
            },
            **overrides,
        )
        for i, overrides in enumerate(bodies)
    ]
    captured = issued_events(luoyang["client"], bodies, library_code=LY)
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
