"""Issue #10 at the hub: a city changes only its own records; request tokens are bound to their
request; an unauthenticated envelope counts against nobody.

Envelopes are real: signed in-process with a key registered for 洛阳 (410300) and posted to the
hub's `/api/v1/exchange/envelopes/`, as a node's relay would. 郑州 (410100)'s records at the hub
are a licence, its type and its issuing agency, all of an agency whose area is in 郑州.
"""

import base64
import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from provincial_hub.aggregation.selectors import aggregation_nodes
from shared.accounts.models import Agency
from shared.catalog.models import LicenseType
from shared.crypto.suites import get_suite
from shared.crypto.tokens import sign_token
from shared.exchange.envelopes import seal
from shared.federation import bulk_apply, ingest
from shared.federation.apply import HANDLERS
from shared.federation.auth import body_digest
from shared.federation.keys import peer_register
from shared.federation.models import (
    InboundCursor,
    QuarantinedRecord,
    ReceivedEnvelope,
    RejectedEvent,
)
from shared.federation.outbox import license_key, license_payload, repair_payload
from shared.federation.snapshots import type_snapshot
from shared.licenses.models import License, LicenseEvent, LicenseVersion
from tests.support import issued_events, make_agency, make_type, make_uscc, make_user, token_client

pytestmark = pytest.mark.django_db

ZZ, LY, HUB = "410100", "410300", "410000"


class City:
    """A city's exchange key, registered at the hub as that city's peer."""

    def __init__(self, code):
        self.code = code
        self.suite = get_suite("gm")
        self.key = self.suite.generate_key()
        public = self.suite.public_key_of(self.key)
        self.kid = self.suite.key_id(public)
        peer_register(
            code=code,
            kid=self.kid,
            public_key_pem=self.suite.public_key_to_pem(public).decode(),
            base_url="http://127.0.0.1:9",
        )

    def envelope(self, events, **overrides):
        args = {
            "key": self.key,
            "kid": self.kid,
            "sender": self.code,
            "receiver": HUB,
            "stream": HUB,
            "events": events,
            "now": timezone.now(),
        }
        return seal(**(args | overrides))

    def token(self, claims):
        now = int(time.time())
        base = {"iss": self.code, "aud": HUB, "iat": now, "exp": now + 120}
        return sign_token(suite=self.suite, key=self.key, kid=self.kid, claims=base | claims)


@pytest.fixture
def luoyang(db):
    return City(LY)


@pytest.fixture
def zhengzhou(db):
    return City(ZZ)


def post(anon, envelope):
    return anon.post("/api/v1/exchange/envelopes/", envelope, format="json")


def numbered(events, start=1):
    return [dict(e, seq=n) for n, e in enumerate(events, start=start)]


@pytest.fixture
def zz_licences(issuer, issue_payload):
    """Two licences the hub holds for 郑州, as if they had arrived on its stream."""
    idents = []
    for i in range(2):
        body = issue_payload(number=f"ZZ{i:06d}")
        response = issuer.post("/api/v1/licenses/", body, format="json")
        assert response.status_code == 201, response.content
        idents.append(response.json()["identifier"])
    License.objects.filter(identifier__in=idents).update(library_code=ZZ)
    return [License.objects.get(identifier=i) for i in idents]


@pytest.fixture
def ly_side(db):
    """洛阳's issuing agency and its type, as the hub holds them (both 洛阳's)."""
    agency = make_agency("洛阳市市场监督管理局", body="00003001", area=LY, is_issuer=True)
    user = make_user("ly_issuer", agency)
    return agency, make_type(user, seq=7, requires_review=False), token_client(user)


def _snapshot_state():
    return {
        "licences": sorted(
            License.objects.values_list(
                "identifier", "status", "holder_name", "library_code", "last_event_seq"
            )
        ),
        "events": LicenseEvent.objects.count(),
        "versions": LicenseVersion.objects.count(),
        "types": sorted(LicenseType.objects.values_list("type_code", "name", "issuer_id")),
        "agencies": sorted(Agency.objects.values_list("code", "name", "area_code")),
    }


def _forged_licence_event(lic, *, claim):
    """洛阳's forgery of 郑州's licence: revoked, holder renamed, one event further."""
    payload = license_payload(lic, lic.events.get(seq=1), new_version=False)
    snap = payload["license"]
    seq = lic.last_event_seq + 1
    snap.update(status="revoked", last_event_seq=seq, library_code=claim)
    snap["holder"]["name"] = "伪造的持证人"
    payload["event"].update(seq=seq, action="revoke", from_status="valid", to_status="revoked")
    return {"kind": "license.event", "key": license_key(lic), "payload": payload}


def test_a_city_cannot_rewrite_another_citys_licence_type_or_agency(
    anon, luoyang, zz_licences, license_type, issuer_agency, ly_side
):
    # given: 郑州's licence, type and agency at the hub, and 洛阳's own agency
    lic = zz_licences[0]
    ly_agency = ly_side[0]
    before = _snapshot_state()
    forged_type = type_snapshot(license_type) | {"name": "伪造的证照类型"}
    renamed_issuer = type_snapshot(license_type)
    renamed_issuer["type_code"] = license_type.type_code[:-3] + "950"
    renamed_issuer["issuer"]["name"] = "伪造的单位名称"
    own_type = type_snapshot(ly_side[1]) | {"name": "洛阳市食品经营许可证（修订）"}
    events = numbered(
        [
            _forged_licence_event(lic, claim=ZZ),  # honest about whose it is
            _forged_licence_event(lic, claim=LY),  # lying about whose it is
            {
                "kind": "catalog.type",
                "key": license_type.type_code,
                "payload": {"type": forged_type},
            },
            {"kind": "catalog.type", "key": "x", "payload": {"type": renamed_issuer}},
            {"kind": "catalog.type", "key": own_type["type_code"], "payload": {"type": own_type}},
        ]
    )
    # when: 洛阳 signs them with its own valid key, as itself
    response = post(anon, luoyang.envelope(events))
    # then: the envelope is taken, only 洛阳's own change applies, the stream moves on
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["applied"], body["high_water_mark"]) == (1, 5)
    assert [(r["seq"], r["code"]) for r in body["rejected"]] == [
        (1, "federation.not_owner"),
        (2, "federation.not_owner"),
        (3, "federation.not_owner"),
        (4, "federation.not_owner"),
    ]
    # nothing of 郑州's changed: licence, events, versions, type, agency
    after = _snapshot_state()
    own = LicenseType.objects.get(type_code=own_type["type_code"])
    assert own.name == "洛阳市食品经营许可证（修订）" and own.issuer_id == ly_agency.pk
    after["types"] = [t for t in after["types"] if t[0] != own.type_code]
    before["types"] = [t for t in before["types"] if t[0] != own.type_code]
    assert after == before
    lic.refresh_from_db()
    assert (lic.status, lic.holder_name, lic.library_code) == ("valid", "郑州豫中食品有限公司", ZZ)
    issuer_agency.refresh_from_db()
    assert issuer_agency.name == "市场监督管理局"
    assert not LicenseType.objects.filter(type_code=renamed_issuer["type_code"]).exists()
    # visible to an operator: dead letters with the reason, counted against 洛阳
    dead = RejectedEvent.objects.filter(sender=LY).order_by("seq")
    assert [(d.seq, d.error_code) for d in dead] == [
        (n, "federation.not_owner") for n in (1, 2, 3, 4)
    ]
    assert dead[0].payload["license"]["holder"]["name"] == "伪造的持证人"
    row = next(n for n in aggregation_nodes() if n["code"] == LY)
    assert (row["rejected_events"], row["rejected_not_owner"], row["high_water_mark"]) == (4, 4, 5)
    assert InboundCursor.objects.get(sender=LY).high_water_mark == 5


def test_the_owner_still_changes_its_own_records(anon, zhengzhou, zz_licences, license_type):
    lic = zz_licences[0]
    forged = _forged_licence_event(lic, claim=ZZ)  # the same change, now from its owner
    response = post(anon, zhengzhou.envelope(numbered([forged])))
    assert response.status_code == 200 and response.json()["applied"] == 1
    lic.refresh_from_db()
    assert (lic.status, lic.holder_name) == ("revoked", "伪造的持证人")


def test_the_handlers_refuse_before_writing(zz_licences, license_type, issuer_agency):
    """The per-event handlers themselves (used by every transport) refuse foreign records."""
    from shared.core.errors import PermanentError

    lic = zz_licences[0]
    renamed = type_snapshot(license_type)
    renamed["issuer"]["name"] = "伪造的单位名称"
    calls = [
        ("license.event", _forged_licence_event(lic, claim=LY)["payload"]),
        ("license.repair", repair_payload(lic) | {"license": _forged(lic, LY)}),
        ("catalog.type", {"type": renamed}),
    ]
    for kind, payload in calls:
        with pytest.raises(PermanentError) as refused:
            HANDLERS[kind](payload, sender=LY)
        assert refused.value.code == "federation.not_owner", kind
    issuer_agency.refresh_from_db()
    lic.refresh_from_db()
    assert issuer_agency.name == "市场监督管理局" and lic.status == "valid"


def _forged(lic, claim):
    snap = repair_payload(lic)["license"]
    snap.update(status="revoked", library_code=claim)
    snap["holder"]["name"] = "伪造的持证人"
    return snap


# --- the bulk (COPY) paths ---------------------------------------------------------------------


def _new_licence_events(client, issue_payload, type_code, count, *, prefix, tag):
    """The `license.event` payloads of `count` issues by `client`'s agency, then undone: the
    hub lacks these licences, as a receiver lacks a city's new ones."""
    bodies = [
        issue_payload(
            type_code=type_code,
            number=f"{prefix}{i:06d}",
            holder={
                "name": f"新证持有人{prefix}{i}",
                "code": make_uscc(dept="91", area="410300", body=f"{tag}{i:06d}"),
                "code_type": "001",
            },
        )
        for i in range(count)
    ]
    return issued_events(client, bodies)


def test_the_bulk_paths_take_only_the_senders_own_licences(
    anon, luoyang, zz_licences, issuer, issue_payload, license_type, ly_side, monkeypatch
):
    # given: two new 洛阳 licences, and forged new licences in 郑州's agency's name — one
    # claiming to be 郑州's, one claiming to be 洛阳's
    _, ly_type, ly_client = ly_side
    own = _new_licence_events(
        ly_client, issue_payload, ly_type.type_code, 2, prefix="LYA", tag="LA"
    )
    foreign = _new_licence_events(
        issuer, issue_payload, license_type.type_code, 2, prefix="ZZF", tag="HB"
    )
    for event in own:
        event["payload"]["license"]["library_code"] = LY
    foreign[0]["payload"]["license"]["library_code"] = ZZ
    foreign[1]["payload"]["license"]["library_code"] = LY
    before = _snapshot_state()
    inserted, owned = [], []
    real_insert, real_owned = bulk_apply._insert, bulk_apply._owned

    def spy_insert(candidates, sender, *, checked):
        inserted.append(sorted(e["seq"] for e in candidates))
        return real_insert(candidates, sender, checked=checked)

    def spy_owned(candidates, sender):
        result = real_owned(candidates, sender)
        owned.append((sorted(e["seq"] for e in candidates), sorted(e["seq"] for e in result)))
        return result

    monkeypatch.setattr(bulk_apply, "_insert", spy_insert)
    monkeypatch.setattr(bulk_apply, "_owned", spy_owned)
    # when
    events = numbered([foreign[0], own[0], foreign[1], own[1]])
    response = post(anon, luoyang.envelope(events))
    # then: the COPY path took exactly 洛阳's two; the forgeries were dead-lettered
    assert response.status_code == 200, response.json()
    body = response.json()
    assert inserted == [[2, 4]]
    assert owned[0] == ([1, 2, 3, 4], [2, 4])
    assert (body["applied"], body["high_water_mark"]) == (2, 4)
    assert [(r["seq"], r["code"]) for r in body["rejected"]] == [
        (1, "federation.not_owner"),
        (3, "federation.not_owner"),
    ]
    assert License.objects.filter(library_code=LY).count() == 2
    assert License.objects.count() == len(before["licences"]) + 2
    assert not License.objects.filter(holder_name__startswith="新证持有人ZZF").exists()

    # and whole-licence repairs: two forged ones of 郑州's licences, two real ones of 洛阳's
    repaired = []
    real_repair = bulk_apply._repair

    def spy_repair(candidates, sender):
        repaired.append(sorted(e["seq"] for e in candidates))
        return real_repair(candidates, sender)

    monkeypatch.setattr(bulk_apply, "_repair", spy_repair)
    ly_held = list(License.objects.filter(library_code=LY).order_by("serial"))
    repairs = []
    for lic in zz_licences:
        payload = repair_payload(lic)
        payload["license"] = _forged(lic, LY)
        repairs.append({"kind": "license.repair", "key": license_key(lic), "payload": payload})
    for lic in ly_held:
        payload = repair_payload(lic)
        payload["license"]["number"] = "洛阳补正"
        repairs.append({"kind": "license.repair", "key": license_key(lic), "payload": payload})
    response = post(anon, luoyang.envelope(numbered(repairs, start=5)))
    assert response.status_code == 200, response.json()
    body = response.json()
    assert repaired == [[7, 8]]
    assert (body["applied"], body["high_water_mark"]) == (2, 8)
    assert [r["code"] for r in body["rejected"]] == ["federation.not_owner"] * 2
    for lic in zz_licences:
        lic.refresh_from_db()
        assert (lic.status, lic.library_code, lic.holder_name) == (
            "valid",
            ZZ,
            "郑州豫中食品有限公司",
        )
    assert set(License.objects.filter(library_code=LY).values_list("number", flat=True)) == {
        "洛阳补正"
    }
    assert RejectedEvent.objects.filter(sender=LY, error_code="federation.not_owner").count() == 4


# --- reconciliation repairs events as well as rows ---------------------------------------------


def _plant_forgery(lic):
    """What the old apply path let 洛阳 leave at the hub: a revoke event one further, a version
    with another holder, and the row pointing at them (as reconciliation would find it)."""
    seq = lic.last_event_seq + 1
    version = lic.versions.get()
    LicenseVersion.objects.create(
        license=lic,
        version=2,
        identifier=lic.identifier[:-5] + "002.X",
        number=version.number,
        holder_name="伪造的持证人",
        holder_code_enc=version.holder_code_enc,
        holder_code_digest=version.holder_code_digest,
        holder_code_type=version.holder_code_type,
        issue_date=version.issue_date,
        valid_from=version.valid_from,
        content_digest="0" * 64,
    )
    LicenseEvent.objects.create(
        license=lic,
        seq=seq,
        action="revoke",
        from_status="valid",
        to_status="revoked",
        version=1,
        identifier=lic.identifier,
        reason="伪造",
    )
    License.objects.filter(pk=lic.pk).update(status="revoked", last_event_seq=seq)


def test_the_owners_repair_quarantines_events_and_versions_it_does_not_have(zz_licences):
    lic = zz_licences[0]
    repair = repair_payload(lic)  # the node's copy: one version, one event
    _plant_forgery(lic)
    HANDLERS["license.repair"](repair, sender=ZZ)
    lic.refresh_from_db()
    assert (lic.status, lic.last_event_seq) == ("valid", 1)
    assert list(lic.events.values_list("seq", "action")) == [(1, "issue")]
    assert lic.versions.count() == 1
    quarantined = sorted(QuarantinedRecord.objects.values_list("kind", "number", "sender"))
    assert quarantined == [("event", 2, ZZ), ("version", 2, ZZ)]
    # the owner's real next event now lands as itself, not shadowed by the forged one
    suspend = license_payload(lic, lic.events.get(seq=1), new_version=False)
    suspend["license"].update(status="suspended", last_event_seq=2)
    suspend["event"].update(seq=2, action="suspend", from_status="valid", to_status="suspended")
    HANDLERS["license.event"](suspend, sender=ZZ)
    assert lic.events.get(seq=2).action == "suspend"


def test_the_bulk_repair_quarantines_too(anon, zhengzhou, zz_licences, monkeypatch):
    repairs = [
        {"kind": "license.repair", "key": license_key(lic), "payload": repair_payload(lic)}
        for lic in zz_licences
    ]
    for lic in zz_licences:
        _plant_forgery(lic)
    calls = []
    real_repair = bulk_apply._repair
    monkeypatch.setattr(
        bulk_apply, "_repair", lambda c, s: calls.append(len(c)) or real_repair(c, s)
    )
    response = post(anon, zhengzhou.envelope(numbered(repairs)))
    assert response.status_code == 200 and response.json()["applied"] == 2
    assert calls == [2]
    for lic in zz_licences:
        assert list(lic.events.values_list("seq", flat=True)) == [1]
        assert lic.versions.count() == 1
    assert QuarantinedRecord.objects.count() == 4
    assert next(n for n in aggregation_nodes() if n["code"] == ZZ)["quarantined_records"] == 4
    assert set(License.objects.values_list("status", flat=True)) == {"valid"}


# --- request tokens bound to their request -----------------------------------------------------


DIGESTS = "/api/v1/exchange/digests/"
STATUS = "/api/v1/exchange/status"


def _claims(method, path, body=b""):
    return {"htm": method, "htu": path, "bdh": body_digest(body)}


def test_a_token_is_good_for_its_own_request(anon, luoyang):
    token = luoyang.token(_claims("GET", STATUS))
    response = anon.get(STATUS, {"node": LY}, HTTP_X_EXCHANGE_TOKEN=token)
    assert response.status_code == 200, response.json()
    body = json.dumps({"scope": LY, "level": 0, "prefixes": []}).encode()
    token = luoyang.token(_claims("POST", DIGESTS, body))
    response = anon.generic(
        "POST", DIGESTS, body, content_type="application/json", HTTP_X_EXCHANGE_TOKEN=token
    )
    assert response.status_code == 200, response.json()


def test_a_token_replayed_on_another_path_or_body_is_refused(anon, luoyang):
    status_token = luoyang.token(_claims("GET", STATUS))
    body = json.dumps({"scope": LY, "level": 0, "prefixes": []}).encode()
    # the status call's token, on the digests endpoint
    replayed = anon.generic(
        "POST", DIGESTS, body, content_type="application/json", HTTP_X_EXCHANGE_TOKEN=status_token
    )
    assert replayed.status_code == 401
    assert replayed.json()["code"] == "exchange.token_mismatch"
    # a digests token, with another body
    token = luoyang.token(_claims("POST", DIGESTS, body))
    other = json.dumps({"scope": LY, "level": 1, "prefixes": ["x"]}).encode()
    response = anon.generic(
        "POST", DIGESTS, other, content_type="application/json", HTTP_X_EXCHANGE_TOKEN=token
    )
    assert response.status_code == 401 and response.json()["code"] == "exchange.token_mismatch"
    # a token bound to nothing (the old form) is no longer enough
    bare = luoyang.token({})
    response = anon.get(STATUS, {"node": LY}, HTTP_X_EXCHANGE_TOKEN=bare)
    assert response.status_code == 401 and response.json()["code"] == "exchange.token_mismatch"


def test_the_hubs_own_calls_carry_bound_tokens(settings, luoyang):
    """What the hub's client code signs (digests, resend) verifies as bound to that request."""
    from shared.federation.auth import request_token, signed_json

    body, headers = signed_json(
        audience=LY, url="http://node/api/v1/federation/resend/", data={"keys": ["a"]}
    )
    payload = headers["X-Exchange-Token"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert (claims["htm"], claims["htu"], claims["bdh"]) == (
        "POST",
        "/api/v1/federation/resend/",
        body_digest(body),
    )
    token = request_token(audience=LY, method="get", url="http://n/api/v1/federation/files/ab")
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert (claims["htm"], claims["htu"], claims["bdh"]) == (
        "GET",
        "/api/v1/federation/files/ab",
        body_digest(b""),
    )


# --- refusals count against a sender only once it is authenticated -----------------------------


def test_an_unauthenticated_envelope_does_not_count_against_the_sender_it_names(
    anon, luoyang, zz_licences
):
    forger = City.__new__(City)  # a key nobody registered, claiming to be 洛阳
    forger.code, forger.suite = LY, get_suite("gm")
    forger.key = forger.suite.generate_key()
    forger.kid = luoyang.kid  # even the right key id
    envelope = forger.envelope(numbered([_forged_licence_event(zz_licences[0], claim=LY)]))
    response = post(anon, envelope)
    assert response.status_code == 403
    assert response.json()["code"] == "exchange.bad_signature"
    row = ReceivedEnvelope.objects.get()
    assert (row.sender, row.claimed_sender, row.outcome) == ("", LY, "refused")
    assert next(n for n in aggregation_nodes() if n["code"] == LY)["refused_envelopes_24h"] == 0
    # a signed envelope refused after its signature (here: stale) does count against 洛阳
    stale = luoyang.envelope([], now=timezone.now() - timedelta(hours=1))
    response = post(anon, stale)
    assert response.status_code == 403 and response.json()["code"] == "exchange.stale"
    assert next(n for n in aggregation_nodes() if n["code"] == LY)["refused_envelopes_24h"] == 1
    assert ReceivedEnvelope.objects.filter(sender=LY, claimed_sender="").count() == 1
    assert not InboundCursor.objects.filter(sender=LY).exists()


class FakeNode:
    """A node's digests and resend endpoints over real HTTP: digests as given, resend recorded
    with the token the hub signed for it."""

    def __init__(self, digests, types=None):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.digests = digests
        self.types = types or {}
        self.calls = []
        node = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                data = json.loads(body)
                node.calls.append(
                    {"path": self.path, "body": body, "token": self.headers["X-Exchange-Token"]}
                )
                if self.path.endswith("/digests/") and data.get("kind") == "types":
                    answer = {"digests": node.types}
                elif self.path.endswith("/digests/") and data["scope"] != ZZ:
                    answer = {"digests": {}}  # no licence of the hub's came down to it
                elif self.path.endswith("/digests/"):
                    answer = {"digests": node.digests[data["level"]]}
                else:
                    answer = {"queued": len(data["keys"])}
                out = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_reconciliation_has_the_node_resend_a_licence_whose_forged_event_outlived_the_row(
    zhengzhou, zz_licences
):
    from shared.federation.keys import peer_get
    from shared.federation.reconciliation import digests_for, reconcile_run

    # given: the old forgery, and an earlier repair that restored the row but left the event
    lic = zz_licences[0]
    owners_copy = repair_payload(lic)
    _plant_forgery(lic)
    License.objects.filter(pk=lic.pk).update(status="valid", last_event_seq=1)
    node = FakeNode(
        {0: digests_for(scope=ZZ, level=0, prefixes=[])["digests"]},
        types=digests_for(scope=ZZ, level=0, prefixes=[], kind="types")["digests"],
    )
    peer = peer_get(ZZ)
    peer.base_url = node.url
    peer.save()
    try:
        # the row agrees: a plain run finds nothing
        plain = reconcile_run(peer_code=ZZ)
        assert (plain.differences, plain.repaired) == (0, 0)
        # when: the run also looks at histories
        run = reconcile_run(peer_code=ZZ, history="suspect")
    finally:
        node.close()
    # then: the node is asked to resend exactly that licence, with a token bound to the call
    resend = [c for c in node.calls if c["path"].endswith("/resend/")]
    assert len(resend) == 1
    assert json.loads(resend[0]["body"]) == {"keys": [license_key(lic)]}
    payload = resend[0]["token"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert (claims["htm"], claims["htu"], claims["bdh"]) == (
        "POST",
        "/api/v1/federation/resend/",
        body_digest(resend[0]["body"]),
    )
    assert run.repaired == 1 and {"key": license_key(lic), "kind": "history_resent"} in run.flagged
    # and the node's repair, when it arrives, takes the forged event and version out
    HANDLERS["license.repair"](owners_copy, sender=ZZ)
    assert list(lic.events.values_list("seq", flat=True)) == [1]
    assert sorted(QuarantinedRecord.objects.values_list("kind", flat=True)) == ["event", "version"]


def test_a_city_cannot_issue_under_another_citys_type(issue_payload, license_type, ly_side):
    """A licence is issued under a type of its own issuer: 洛阳's licence of 郑州's type is not
    洛阳's to send."""
    from shared.core.errors import PermanentError

    _, ly_type, ly_client = ly_side
    (event,) = _new_licence_events(
        ly_client, issue_payload, ly_type.type_code, 1, prefix="LYT", tag="LT"
    )
    payload = event["payload"]
    payload["license"].update(library_code=LY, type_code=license_type.type_code)
    count = License.objects.count()
    with pytest.raises(PermanentError) as refused:
        HANDLERS["license.event"](payload, sender=LY)
    assert refused.value.code == "federation.not_owner"
    assert refused.value.detail["record"] == "type"
    assert License.objects.count() == count


def test_a_refusal_records_the_claimed_sender_as_plain_text():
    """Whatever an unauthenticated body names (here NUL and a lone surrogate, as the AMQP
    consumer may hand it over) is recorded as text the database takes, against nobody."""
    from shared.core.errors import ApplicationError

    body = {"sender": "4103\x00\ud800", "envelope_id": "e\x00\ud800", "events": []}
    with pytest.raises(ApplicationError) as refused:
        ingest.ingest_envelope({"body": body, "alg": "SM2-SM3", "kid": "k", "sig": "AA=="})
    assert refused.value.code == "exchange.unknown_key"
    row = ReceivedEnvelope.objects.get()
    assert (row.sender, row.claimed_sender, row.envelope_id) == ("", "4103??", "e??")
