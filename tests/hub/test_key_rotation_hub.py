"""Issue #14 at the hub: a city's exchange key and access-log signing key rotate, accepted only
from an announcement its current key signed; an unannounced key is refused, and so is the old
kid once retired.

Envelopes are real (signed in-process with keys registered for 洛阳 and 郑州) and posted to
`/api/v1/exchange/envelopes/` as a node's relay would; checkpoints are the access log's own.
"""

import time

import pytest
from django.utils import timezone

from provincial_hub.aggregation.models import Witness
from provincial_hub.aggregation.witness import checkpoint_witness, log_key_announce_apply
from shared.access import log
from shared.access.keys import log_key_replace, log_signing_key
from shared.access.services import access_record
from shared.core.errors import PermanentError
from shared.crypto.suites import get_suite
from shared.crypto.tokens import sign_token
from shared.exchange.envelopes import seal
from shared.federation import rotation
from shared.federation.auth import body_digest
from shared.federation.keys import peer_register
from shared.federation.models import InboundCursor, OutboxEvent, Peer, PeerKey, RejectedEvent

pytestmark = pytest.mark.django_db

ZZ, LY, HUB = "410100", "410300", "410000"
STATUS = "/api/v1/exchange/status"
SUITE = get_suite("gm")


def new_key():
    private = SUITE.generate_key()
    public = SUITE.public_key_of(private)
    return private, SUITE.key_id(public), SUITE.public_key_to_pem(public).decode()


class City:
    """A city's exchange keys as the city holds them: the registered one, and successors."""

    def __init__(self, code):
        self.code = code
        self.key, self.kid, self.pem = new_key()
        peer_register(
            code=code, kid=self.kid, public_key_pem=self.pem, base_url="http://127.0.0.1:9"
        )
        self.seq = 0

    def envelope(self, events, *, key=None, kid=None, sender=None):
        numbered = []
        for event in events:
            self.seq += 1
            numbered.append(dict(event, seq=self.seq))
        return seal(
            key=key or self.key,
            kid=kid or self.kid,
            sender=sender or self.code,
            receiver=HUB,
            stream=HUB,
            events=numbered,
            now=timezone.now(),
        )

    def announce(self, *, kid, pem, old_kid=None, library_code=None):
        return {
            "kind": rotation.ANNOUNCE,
            "key": f"key:{kid}",
            "payload": {
                "schema": 1,
                "purpose": "exchange",
                "library_code": library_code or self.code,
                "kid": kid,
                "suite": "gm",
                "public_key_pem": pem,
                "not_before": timezone.now().isoformat(),
                "old_kid": old_kid or self.kid,
            },
        }

    def retire(self, *, kid, successor_kid):
        return {
            "kind": rotation.RETIRE,
            "key": f"key:{kid}",
            "payload": {
                "schema": 1,
                "purpose": "exchange",
                "library_code": self.code,
                "kid": kid,
                "successor_kid": successor_kid,
            },
        }

    def token(self, *, key, kid):
        now = int(time.time())
        claims = {"iss": self.code, "aud": HUB, "iat": now, "exp": now + 120}
        claims |= {"htm": "GET", "htu": STATUS, "bdh": body_digest(b"")}
        return sign_token(suite=SUITE, key=key, kid=kid, claims=claims)


@pytest.fixture
def luoyang(db):
    return City(LY)


@pytest.fixture
def zhengzhou(db):
    return City(ZZ)


def post(anon, envelope):
    return anon.post("/api/v1/exchange/envelopes/", envelope, format="json")


def status_call(anon, city, *, key, kid):
    return anon.get(STATUS, {"node": city.code}, HTTP_X_EXCHANGE_TOKEN=city.token(key=key, kid=kid))


def key_state():
    return {
        "peers": sorted(Peer.objects.values_list("code", "kid")),
        "peer_keys": sorted(PeerKey.objects.values_list("peer_code", "purpose", "kid", "state")),
    }


# --- exchange keys ---------------------------------------------------------------------------


def test_announced_successor_verifies_in_the_overlap_and_the_old_kid_is_refused_after(
    anon, luoyang
):
    # given: 洛阳 announces a new key in an envelope its current key signs
    new, new_kid, new_pem = new_key()
    response = post(anon, luoyang.envelope([luoyang.announce(kid=new_kid, pem=new_pem)]))
    assert response.status_code == 200, response.json()
    assert (response.json()["applied"], response.json()["rejected"]) == (1, [])
    assert PeerKey.objects.get(peer_code=LY, kid=new_kid).state == "successor"
    # when: in the overlap, both keys sign envelopes and request tokens
    by_new = post(anon, luoyang.envelope([], key=new, kid=new_kid))
    by_old = post(anon, luoyang.envelope([], key=luoyang.key, kid=luoyang.kid))
    # then: both verify
    assert (by_new.status_code, by_old.status_code) == (200, 200)
    assert status_call(anon, luoyang, key=new, kid=new_kid).status_code == 200
    assert status_call(anon, luoyang, key=luoyang.key, kid=luoyang.kid).status_code == 200
    # when: the successor retires the old key
    retired = post(
        anon,
        luoyang.envelope(
            [luoyang.retire(kid=luoyang.kid, successor_kid=new_kid)], key=new, kid=new_kid
        ),
    )
    assert retired.status_code == 200 and retired.json()["rejected"] == [], retired.json()
    # then: the new key is 洛阳's, the old kid refused with its own code, nothing applied
    assert Peer.objects.get(code=LY).kid == new_kid
    mark = InboundCursor.objects.get(sender=LY).high_water_mark
    refused = post(anon, luoyang.envelope([luoyang.announce(kid="x" * 16, pem=new_pem)]))
    assert (refused.status_code, refused.json()["code"]) == (403, "exchange.key_retired")
    token = status_call(anon, luoyang, key=luoyang.key, kid=luoyang.kid)
    assert (token.status_code, token.json()["code"]) == (401, "exchange.key_retired")
    assert InboundCursor.objects.get(sender=LY).high_water_mark == mark
    assert post(anon, luoyang.envelope([], key=new, kid=new_kid)).status_code == 200
    assert dict(PeerKey.objects.filter(peer_code=LY).values_list("kid", "state")) == {
        luoyang.kid: "retired",
        new_kid: "current",
    }


def test_an_unannounced_key_is_refused_and_changes_nothing(anon, luoyang):
    # given: a key 洛阳 never announced
    other, other_kid, _ = new_key()
    before = key_state()
    # when: it signs an envelope and a request token
    response = post(anon, luoyang.envelope([], key=other, kid=other_kid))
    token = status_call(anon, luoyang, key=other, kid=other_kid)
    # then: both refused; nothing changed
    assert (response.status_code, response.json()["code"]) == (403, "exchange.unknown_key")
    assert (token.status_code, token.json()["code"]) == (401, "exchange.bad_token")
    assert key_state() == before
    assert not InboundCursor.objects.filter(sender=LY).exists()


def _refused(anon, city, envelope, code):
    before = key_state()
    response = post(anon, envelope)
    assert response.status_code == 200, response.json()
    assert [r["code"] for r in response.json()["rejected"]] == [code]
    assert key_state() == before
    assert RejectedEvent.objects.filter(sender=city.code, error_code=code).exists()


def test_an_announcement_naming_another_old_key_is_refused(anon, luoyang, zhengzhou):
    _, new_kid, new_pem = new_key()
    # 洛阳, signing with its own key, names 郑州's key as the old one
    envelope = luoyang.envelope([luoyang.announce(kid=new_kid, pem=new_pem, old_kid=zhengzhou.kid)])
    _refused(anon, luoyang, envelope, "federation.key_wrong_old_key")


def test_an_announcement_for_another_city_is_refused(anon, luoyang, zhengzhou):
    # 洛阳 announces a successor for 郑州 (the sender must own the old key)
    _, new_kid, new_pem = new_key()
    envelope = luoyang.envelope(
        [zhengzhou.announce(kid=new_kid, pem=new_pem)], key=luoyang.key, kid=luoyang.kid
    )
    _refused(anon, luoyang, envelope, "federation.key_wrong_sender")
    assert Peer.objects.get(code=ZZ).kid == zhengzhou.kid


def test_an_announcement_signed_by_the_successor_itself_is_refused(anon, luoyang):
    # given: an announced successor, still in the overlap
    successor, successor_kid, successor_pem = new_key()
    post(anon, luoyang.envelope([luoyang.announce(kid=successor_kid, pem=successor_pem)]))
    # when: the successor (not the current key) announces yet another key
    _, third_kid, third_pem = new_key()
    envelope = luoyang.envelope(
        [luoyang.announce(kid=third_kid, pem=third_pem, old_kid=successor_kid)],
        key=successor,
        kid=successor_kid,
    )
    # then: refused: only the current key vouches for a successor
    _refused(anon, luoyang, envelope, "federation.key_wrong_old_key")


def test_a_replayed_announcement_is_refused(anon, luoyang):
    # given: an accepted announcement
    _, new_kid, new_pem = new_key()
    envelope = luoyang.envelope([luoyang.announce(kid=new_kid, pem=new_pem)])
    assert post(anon, envelope).json()["applied"] == 1
    # when: the same envelope comes again, and the same announcement in a new envelope
    replayed = post(anon, envelope)
    # then: both refused, nothing changed
    assert (replayed.status_code, replayed.json()["code"]) == (409, "exchange.replay")
    _refused(
        anon,
        luoyang,
        luoyang.envelope([luoyang.announce(kid=new_kid, pem=new_pem)]),
        "federation.key_replayed",
    )


def test_a_retired_key_cannot_be_announced_again(anon, luoyang):
    # given: a finished rotation
    new, new_kid, new_pem = new_key()
    post(anon, luoyang.envelope([luoyang.announce(kid=new_kid, pem=new_pem)]))
    post(
        anon,
        luoyang.envelope(
            [luoyang.retire(kid=luoyang.kid, successor_kid=new_kid)], key=new, kid=new_kid
        ),
    )
    # when: the new key "announces" the retired one as its successor (a stolen old key
    # brought back); then: refused
    envelope = luoyang.envelope(
        [luoyang.announce(kid=luoyang.kid, pem=luoyang.pem, old_kid=new_kid)], key=new, kid=new_kid
    )
    _refused(anon, luoyang, envelope, "federation.key_replayed")


def test_an_announcement_whose_kid_is_not_its_key_is_refused(anon, luoyang):
    _, _, new_pem = new_key()
    envelope = luoyang.envelope([luoyang.announce(kid="0" * 16, pem=new_pem)])
    _refused(anon, luoyang, envelope, "federation.key_malformed")


def test_a_retirement_signed_by_the_old_key_is_refused(anon, luoyang):
    # given: an announced successor
    _, new_kid, new_pem = new_key()
    post(anon, luoyang.envelope([luoyang.announce(kid=new_kid, pem=new_pem)]))
    # when: the OLD key (a thief holding only it) signs the retirement; then: refused
    envelope = luoyang.envelope([luoyang.retire(kid=luoyang.kid, successor_kid=new_kid)])
    _refused(anon, luoyang, envelope, "federation.key_retire_refused")
    assert Peer.objects.get(code=LY).kid == luoyang.kid


def test_an_envelope_forged_with_an_attackers_key_is_refused(anon, luoyang):
    # an attacker's key claiming to be 洛阳's announces itself: the envelope does not verify
    attacker, attacker_kid, attacker_pem = new_key()
    before = key_state()
    envelope = luoyang.envelope(
        [luoyang.announce(kid=attacker_kid, pem=attacker_pem)], key=attacker, kid=luoyang.kid
    )
    response = post(anon, envelope)
    assert (response.status_code, response.json()["code"]) == (403, "exchange.bad_signature")
    assert key_state() == before


# --- access-log signing keys -------------------------------------------------------------------


@pytest.fixture
def node(settings, tmp_path):
    settings.ACCESS_LOG_KEY_FILE = str(tmp_path / "access-log.pem")
    return settings.LIBRARY_CODE


def append(user, n):
    for i in range(n):
        access_record(
            user=user,
            operation="verify",
            matter_code="M0001",
            use_cause=f"核验 {i}",
            licenses=[],
            outcome="none",
        )


def witness_next(node):
    last = Witness.objects.filter(node_code=node, status="consistent").order_by("-tree_size")
    size = last.first().tree_size if last.exists() else 0
    return checkpoint_witness(node_code=node, checkpoint=log.checkpoint_export(from_size=size))


def announcement():
    return OutboxEvent.objects.filter(kind=rotation.LOG_ANNOUNCE).order_by("-seq").first().payload


def test_an_announced_log_key_is_accepted_and_the_old_one_refused_after(consumer_user, node):
    # given: checkpoints witnessed under the node's first key
    append(consumer_user, 3)
    first = witness_next(node)
    assert first.status == "consistent"
    size = first.tree_size + 2  # (records an earlier test committed on its own connection count)
    old_key = log_signing_key()
    old_pem = SUITE.public_key_to_pem(SUITE.public_key_of(old_key)).decode()
    # when: the node rotates its key and the hub applies the announcement
    rotated = rotation.log_key_rotate()
    log_key_announce_apply(announcement(), sender=node)
    append(consumer_user, 2)
    witnessed = witness_next(node)
    # then: the checkpoint the new key signed is consistent, the new key is the node's
    assert (witnessed.status, witnessed.tree_size, witnessed.key_id) == (
        "consistent",
        size,
        rotated.new_kid,
    )
    assert dict(PeerKey.objects.filter(purpose="access_log").values_list("kid", "state")) == {
        rotated.old_kid: "retired",
        rotated.new_kid: "current",
    }
    # when: a checkpoint signed by the retired key arrives
    log_key_replace(old_key)
    append(consumer_user, 1)
    stale = log.checkpoint_export(from_size=size)
    assert stale["public_key"] == old_pem
    verdict = checkpoint_witness(node_code=node, checkpoint=stale)
    # then: refused, and the node's key stays the new one
    assert (verdict.status, verdict.problem) == ("bad_signature", "检查点签名密钥已退役")
    assert Witness.objects.filter(status="consistent").order_by("-tree_size")[0].tree_size == size


def test_an_unannounced_log_key_is_rejected(consumer_user, node):
    # given: a witnessed checkpoint, then a key swapped without announcement
    append(consumer_user, 2)
    assert witness_next(node).status == "consistent"
    log_key_replace(SUITE.generate_key())
    append(consumer_user, 2)
    # when: its checkpoint arrives
    verdict = witness_next(node)
    # then: bad_signature, nothing accepted
    assert verdict.status == "bad_signature"
    assert verdict.problem == "检查点签名密钥未经公告，与登记的节点密钥不符"
    assert not PeerKey.objects.exists()


@pytest.mark.parametrize(
    ("forge", "code"),
    [
        ("proof_by_another_key", "federation.key_wrong_old_key"),
        ("another_library", "federation.key_wrong_sender"),
        ("old_kid_not_current", "federation.key_wrong_old_key"),
        ("replayed", "federation.key_replayed"),
    ],
)
def test_forged_log_key_announcements_are_refused(consumer_user, node, forge, code):
    # given: a witnessed checkpoint and an honest announcement
    append(consumer_user, 2)
    assert witness_next(node).status == "consistent"
    rotation.log_key_rotate()
    payload = dict(announcement())
    if forge == "proof_by_another_key":
        payload["proof"] = SUITE.sign(
            SUITE.generate_key(), rotation.announcement_statement(payload)
        ).hex()
    elif forge == "another_library":
        payload["library_code"] = "410300"
    elif forge == "old_kid_not_current":
        payload["old_kid"] = payload["kid"]
    else:
        log_key_announce_apply(payload, sender=node)
    before = key_state()
    # when: it is applied; then: refused, nothing changed
    with pytest.raises(PermanentError) as refused:
        log_key_announce_apply(payload, sender=node)
    assert refused.value.code == code
    assert key_state() == before


def test_a_log_key_announcement_before_any_checkpoint_is_refused(node):
    rotation.log_key_rotate()
    with pytest.raises(PermanentError) as refused:
        log_key_announce_apply(announcement(), sender=node)
    assert refused.value.code == "federation.key_no_current"
    assert not PeerKey.objects.exists()


# --- the hub's own exchange key, towards its cities ------------------------------------------


def test_the_hubs_rotation_is_announced_to_every_city_and_waits_for_all(luoyang, zhengzhou):
    # given: two cities registered at the hub
    from shared.core.errors import ConflictError
    from shared.federation.keys import local_key_ensure, signing_key

    old = local_key_ensure()
    # when: the hub rotates its exchange key
    rotated = rotation.exchange_key_rotate()
    # then: one announcement per city, naming the hub's current key as the old one
    rows = OutboxEvent.objects.filter(kind=rotation.ANNOUNCE).order_by("stream")
    assert [(r.stream, r.payload["old_kid"], r.payload["kid"]) for r in rows] == [
        (ZZ, old.kid, rotated.new_kid),
        (LY, old.kid, rotated.new_kid),
    ]
    # only 郑州 acknowledged: not yet activated, the old key still signs
    rows.filter(stream=ZZ).update(state="acknowledged")
    with pytest.raises(ConflictError) as waiting:
        rotation.exchange_key_activate()
    assert waiting.value.detail == {"streams": [LY]}
    assert signing_key()[0] == old.kid
    # both acknowledged: activated
    rows.update(state="acknowledged")
    rotation.exchange_key_activate()
    assert signing_key()[0] == rotated.new_kid
