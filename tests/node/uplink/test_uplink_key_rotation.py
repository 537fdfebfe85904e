"""Issue #14 at a city node (郑州, 410100): its exchange key rotates in three steps (announce
signed by the old key, activate once the hub acknowledged, retire), its access-log key rotates
with a proof by the old key; and it takes the hub's successor key only from the hub's
announcement over the downward stream.
"""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.utils import timezone

from shared.access import log
from shared.access.keys import log_signing_key
from shared.access.services import access_record
from shared.audit.models import AuditEntry
from shared.core.errors import ConflictError
from shared.crypto.suites import get_suite, public_key_from_pem
from shared.exchange.envelopes import open_envelope, seal
from shared.federation import rotation
from shared.federation.keys import export_public, local_key_ensure, peer_register, signing_key
from shared.federation.models import KeyRotation, LocalKey, OutboxEvent, Peer, PeerKey
from shared.federation.outbox import outbox_write
from shared.federation.relay import envelope_for, relay_stream
from tests.exchange_standin import envelope_of

pytestmark = pytest.mark.django_db

NODE, HUB = "410100", "410000"
SUITE = get_suite("gm")


def new_key():
    private = SUITE.generate_key()
    public = SUITE.public_key_of(private)
    return private, SUITE.key_id(public), SUITE.public_key_to_pem(public).decode()


@pytest.fixture
def hub(db):
    key, kid, pem = new_key()
    peer_register(code=HUB, kid=kid, public_key_pem=pem, base_url="http://127.0.0.1:9")
    return key, kid, pem


def announcements():
    return list(OutboxEvent.objects.filter(kind=rotation.ANNOUNCE).order_by("seq"))


def signer_of(envelope):
    """The kid that signed `envelope`, checked against this library's own keys."""
    pems = dict(LocalKey.objects.values_list("kid", "public_pem"))
    opened = open_envelope(
        envelope,
        resolve_key=lambda sender, kid: public_key_from_pem(pems[kid].encode()),
        receiver=HUB,
        now=timezone.now(),
    )
    return opened.kid


def test_exchange_key_rotates_announced_by_the_old_key_then_activated_then_retired(hub):
    # given: the node's current exchange key
    old = local_key_ensure()
    # when: it rotates
    rotated = rotation.exchange_key_rotate()
    # then: one announcement on the hub's stream, naming the old key, sealed by the old key
    [event] = announcements()
    assert (event.stream, event.payload["old_kid"], event.payload["kid"]) == (
        HUB,
        old.kid,
        rotated.new_kid,
    )
    envelope = envelope_for(stream=HUB, first=event.seq, last=event.seq)
    assert signer_of(envelope) == old.kid
    # when: it is activated before the hub acknowledged; then: refused, still the old key
    with pytest.raises(ConflictError) as early:
        rotation.exchange_key_activate()
    assert early.value.code == "federation.rotation_unacknowledged"
    assert signing_key()[0] == old.kid
    # a second rotation meanwhile is refused
    with pytest.raises(ConflictError) as twice:
        rotation.exchange_key_rotate()
    assert twice.value.code == "federation.rotation_in_progress"
    assert len(announcements()) == 1
    # when: the hub acknowledged, the node activates: the new key signs from now on
    OutboxEvent.objects.filter(pk=event.pk).update(state=OutboxEvent.State.ACKNOWLEDGED)
    assert rotation.exchange_key_activate().state == "active"
    assert signing_key()[0] == rotated.new_kid
    assert signer_of(envelope_for(stream=HUB, first=event.seq, last=event.seq)) == rotated.new_kid
    # when: it retires the old key: one key.retire on the stream (the new key signs it)
    assert rotation.exchange_key_retire().state == "retired"
    [retire] = OutboxEvent.objects.filter(kind=rotation.RETIRE)
    assert retire.payload == {
        "schema": 1,
        "purpose": "exchange",
        "library_code": NODE,
        "kid": old.kid,
        "successor_kid": rotated.new_kid,
    }
    assert list(
        AuditEntry.objects.filter(target_id=rotated.new_kid)
        .order_by("id")
        .values_list("action", flat=True)
    ) == ["key.announce", "key.activate", "key.retire"]


@pytest.mark.django_db(transaction=True)
def test_a_caller_waiting_on_the_activation_takes_the_new_key_and_makes_none(hub):
    # given: an announced, acknowledged rotation
    local_key_ensure()
    rotation.exchange_key_rotate()
    OutboxEvent.objects.filter(kind=rotation.ANNOUNCE).update(state="acknowledged")
    signed: list[str] = []

    def relay_signs():
        try:
            signed.append(local_key_ensure().kid)
        finally:
            connection.close()

    # when: a caller asks for the active key (locking it) while the activation holds the lock
    with transaction.atomic():
        rotated = rotation.exchange_key_activate()
        relay = threading.Thread(target=relay_signs)
        relay.start()
        time.sleep(0.5)
        assert relay.is_alive() and signed == []  # waiting on the lock
    relay.join(timeout=10)
    # then: it gets the new key; no third key was made
    assert signed == [rotated.new_kid]
    assert LocalKey.objects.count() == 2
    assert list(LocalKey.objects.filter(active=True).values_list("kid", flat=True)) == [
        rotated.new_kid
    ]


def test_rotation_steps_out_of_order_are_refused(hub):
    local_key_ensure()
    for step in (rotation.exchange_key_activate, rotation.exchange_key_retire):
        with pytest.raises(ConflictError) as refused:
            step()
        assert refused.value.code == "federation.rotation_state"
    assert not KeyRotation.objects.exists()
    assert LocalKey.objects.filter(active=True).count() == 1


def test_the_commands_walk_a_rotation(hub, capsys):
    # given / when: the operator rotates and tries to activate at once
    call_command("federation", "rotate-key")
    out = capsys.readouterr().out
    assert "state=announced" in out
    with pytest.raises(CommandError, match="federation.rotation_unacknowledged"):
        call_command("federation", "activate-key")
    # then: after the acknowledgement the steps go through
    OutboxEvent.objects.filter(kind=rotation.ANNOUNCE).update(state="acknowledged")
    call_command("federation", "activate-key")
    call_command("federation", "retire-key")
    call_command("federation", "key-status")
    out = capsys.readouterr().out
    assert "state=active" in out and "state=retired" in out
    assert AuditEntry.objects.filter(action="key.retire", detail__via="command").count() == 1


def test_key_status_before_any_rotation_names_the_keys_in_use(hub, capsys):
    # given: this library's key and the hub registered as its peer, nothing rotated yet
    local = local_key_ensure()
    peer = Peer.objects.get(code=HUB)
    # when
    call_command("federation", "key-status")
    # then: both keys are listed as current
    assert capsys.readouterr().out.splitlines() == [
        f"local kid={local.kid} state=current",
        f"peer={peer.code} purpose=exchange kid={peer.kid} state=current",
    ]


def test_access_log_key_rotates_with_a_proof_by_the_old_key(consumer_user, settings, tmp_path):
    # given: the node's log key and a checkpoint it signed
    settings.ACCESS_LOG_KEY_FILE = str(tmp_path / "access-log.pem")
    access_record(
        user=consumer_user,
        operation="verify",
        matter_code="M0001",
        use_cause="核验",
        licenses=[],
        outcome="none",
    )
    before = log.checkpoint_create()
    old_public = SUITE.public_key_of(log_signing_key())
    # when: it rotates
    call_command("federation", "rotate-log-key")
    # then: the announcement goes to the hub, proven by the old key
    [event] = OutboxEvent.objects.filter(kind=rotation.LOG_ANNOUNCE)
    payload = event.payload
    assert (event.stream, payload["old_kid"], payload["library_code"]) == (
        HUB,
        before.key_id,
        NODE,
    )
    assert SUITE.verify(
        old_public, bytes.fromhex(payload["proof"]), rotation.announcement_statement(payload)
    )
    # and the next checkpoint is signed by the new key; the old file is kept aside
    access_record(
        user=consumer_user,
        operation="verify",
        matter_code="M0001",
        use_cause="核验",
        licenses=[],
        outcome="none",
    )
    after = log.checkpoint_create()
    assert (after.key_id, after.public_key) == (payload["kid"], payload["public_key_pem"])
    assert (tmp_path / f"access-log.pem.retired-{before.key_id}").exists()
    assert log.checkpoint_verify_signature(log.checkpoint_document(before), before.public_key)
    row = KeyRotation.objects.get(purpose="access_log")
    assert (row.old_kid, row.new_kid) == (before.key_id, payload["kid"])


def _from_hub(hub_key, kid, events, first):
    return seal(
        key=hub_key,
        kid=kid,
        sender=HUB,
        receiver=NODE,
        stream=NODE,
        events=[dict(e, seq=n) for n, e in enumerate(events, start=first)],
        now=timezone.now(),
    )


def test_the_node_takes_the_hubs_announced_successor_and_refuses_the_old_key_after(anon, hub):
    # given: the hub's current key, and its successor announced under it
    key, kid, _ = hub
    new, new_kid, new_pem = new_key()
    announce = {
        "kind": rotation.ANNOUNCE,
        "key": f"key:{new_kid}",
        "payload": {
            "schema": 1,
            "purpose": "exchange",
            "library_code": HUB,
            "kid": new_kid,
            "suite": "gm",
            "public_key_pem": new_pem,
            "not_before": timezone.now().isoformat(),
            "old_kid": kid,
        },
    }
    url = "/api/v1/federation/envelopes/"
    answer = anon.post(url, _from_hub(key, kid, [announce], 1), format="json")
    assert answer.status_code == 200 and answer.json()["rejected"] == [], answer.json()
    # when: the successor retires the old key
    retire = {
        "kind": rotation.RETIRE,
        "key": f"key:{kid}",
        "payload": {
            "schema": 1,
            "purpose": "exchange",
            "library_code": HUB,
            "kid": kid,
            "successor_kid": new_kid,
        },
    }
    answer = anon.post(url, _from_hub(new, new_kid, [retire], 2), format="json")
    assert answer.status_code == 200 and answer.json()["rejected"] == [], answer.json()
    # then: the hub's key here is the new one, the old kid is refused with its code
    assert Peer.objects.get(code=HUB).kid == new_kid
    refused = anon.post(url, _from_hub(key, kid, [], 3), format="json")
    assert (refused.status_code, refused.json()["code"]) == (403, "exchange.key_retired")
    assert PeerKey.objects.get(kid=kid).state == "retired"
    # this node's own exchange key is untouched
    assert export_public()["kid"] == local_key_ensure().kid


class KidRecorder:
    """A hub stand-in over real HTTP: checks each envelope's signature against this library's
    keys (old or new), records which kid signed it, takes it all; on the first envelope the
    operator's activation happens (as it would, on another machine, mid-run)."""

    def __init__(self):
        self.kids: list[str] = []
        self.mark = 0
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                try:
                    data = envelope_of(self)
                    pems = dict(LocalKey.objects.values_list("kid", "public_pem"))
                    opened = open_envelope(
                        data,
                        resolve_key=lambda sender, kid: public_key_from_pem(pems[kid].encode()),
                        receiver=HUB,
                        now=timezone.now(),
                    )
                    recorder.kids.append(opened.kid)
                    if len(recorder.kids) == 1:
                        OutboxEvent.objects.filter(kind=rotation.ANNOUNCE).update(
                            state="acknowledged"
                        )
                        rotation.exchange_key_activate()
                    recorder.mark = max(e["seq"] for e in opened.events)
                    raw = json.dumps({"high_water_mark": recorder.mark, "applied": 1}).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                finally:
                    connection.close()

            def log_message(self, *args):  # quiet
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.mark.django_db(transaction=True)
def test_a_relay_run_that_outlives_the_activation_signs_on_with_the_new_key(settings):
    # given: a rotation announced, 14 events waiting, envelopes of 5
    settings.FEDERATION_BATCH_SIZE = settings.FEDERATION_BATCH_MAX = 5
    settings.FEDERATION_ADAPTER = "http"
    recorder = KidRecorder()
    old = local_key_ensure()
    _, kid, pem = new_key()
    peer_register(
        code=HUB,
        kid=kid,
        public_key_pem=pem,
        base_url=f"http://127.0.0.1:{recorder.server.server_address[1]}",
    )
    rotated = rotation.exchange_key_rotate()
    for n in range(13):
        outbox_write(stream=HUB, kind="test.event", key=f"k{n}", payload={"n": n})
    try:
        # when: one relay run sends them all, and the key is activated after its first envelope
        result = relay_stream(stream=HUB)
    finally:
        recorder.server.shutdown()
    # then: all acknowledged; the envelopes prepared after the activation carry the new kid
    assert (result.sent, result.error) == (14, "")
    assert set(OutboxEvent.objects.values_list("state", flat=True)) == {"acknowledged"}
    assert recorder.kids[0] == old.kid
    assert recorder.kids[-1] == rotated.new_kid
    assert len(recorder.kids) == 3
