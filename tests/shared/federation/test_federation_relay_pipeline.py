"""The relay over real HTTP: envelopes in order, the next one signed while the receiver works
on the current one, and thrown away when the receiver did not take all of the current one.

The receiver is a small HTTP server in a thread that checks each envelope's signature and
order the way the hub does and answers with its high-water mark (or an error, on demand): a
retryable one (503) backs the rows off, a permanent one (403) dead-letters them at once.
"""

import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from shared.exchange.envelopes import open_envelope
from shared.federation import relay, sizing
from shared.federation.keys import export_public, peer_register
from shared.federation.models import OutboxEvent, StreamState
from shared.federation.outbox import outbox_write
from shared.federation.sizing import Sizing
from tests.exchange_standin import envelope_of

pytestmark = pytest.mark.django_db

HUB = "410000"


class Receiver:
    def __init__(self, public_key):
        self.mark = 0
        self.received: list[list[int]] = []  # sequence numbers of each envelope, in order
        self.take_at_most: int | None = None  # take only this many events of the next envelope
        self.fail_next = False
        self.delay = 0.0  # seconds before answering
        self.refuse_next = False  # answer the next envelope as a receiver that never takes it
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                opened = open_envelope(
                    envelope_of(self),
                    resolve_key=lambda sender, kid: public_key,
                    receiver=HUB,
                    now=timezone.now(),
                )
                seqs = [e["seq"] for e in opened.events]
                time.sleep(receiver.delay)
                receiver.received.append(seqs)
                if receiver.fail_next:
                    receiver.fail_next = False
                    return self._answer(503, {"code": "service.unavailable", "message": "忙"})
                if receiver.refuse_next:
                    receiver.refuse_next = False
                    refusal = {"code": "exchange.bad_signature", "message": "交换信封签名验证失败"}
                    return self._answer(403, refusal)
                if seqs[0] > receiver.mark + 1:
                    return self._answer(
                        409,
                        {
                            "code": "exchange.gap",
                            "message": "gap",
                            "detail": {"expected": receiver.mark + 1},
                        },
                    )
                fresh = [s for s in seqs if s > receiver.mark]
                if receiver.take_at_most is not None:
                    fresh, receiver.take_at_most = fresh[: receiver.take_at_most], None
                if fresh:
                    receiver.mark = fresh[-1]
                return self._answer(200, {"high_water_mark": receiver.mark, "applied": len(fresh)})

            def _answer(self, status, body):
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args):  # quiet
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def receiver(settings):
    from shared.crypto.suites import public_key_from_pem

    settings.FEDERATION_BATCH_SIZE = settings.FEDERATION_BATCH_MAX = 5  # fixed: not resized
    settings.FEDERATION_ADAPTER = "http"
    me = export_public()
    server = Receiver(public_key_from_pem(me["public_key_pem"].encode()))
    peer_register(code=HUB, kid="hub", public_key_pem=me["public_key_pem"], base_url=server.url)
    yield server
    server.server.shutdown()


def write(count):
    for n in range(count):
        outbox_write(stream=HUB, kind="test.event", key=f"k{n}", payload={"n": n, "名": "证照"})


def states():
    return dict(OutboxEvent.objects.values_list("seq", "state"))


def test_every_event_goes_once_in_order_and_is_acknowledged(receiver):
    write(12)
    result = relay.relay_stream(stream=HUB)
    assert receiver.received == [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10], [11, 12]]
    assert (result.sent, result.acknowledged, result.envelopes, result.error) == (12, 12, 3, "")
    assert set(states().values()) == {"acknowledged"}
    assert not OutboxEvent.objects.filter(sent_at__isnull=True).exists()


def test_the_envelope_signed_ahead_is_dropped_when_the_receiver_took_less(receiver):
    write(12)
    receiver.take_at_most = 3  # the receiver stops inside the first envelope
    relay.relay_stream(stream=HUB)
    # the second envelope (6..10), signed while the first was in flight, is never sent:
    # the relay continues from the receiver's mark
    assert receiver.received == [[1, 2, 3, 4, 5], [4, 5, 6, 7, 8], [9, 10, 11, 12]]
    assert receiver.mark == 12 and set(states().values()) == {"acknowledged"}


def test_a_failure_backs_off_those_rows_and_keeps_what_was_acknowledged(receiver):
    write(12)
    relay.relay_stream(stream=HUB, max_envelopes=1)
    receiver.fail_next = True
    result = relay.relay_stream(stream=HUB)
    assert result.error.startswith("service.unavailable")
    assert receiver.received == [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]]
    rows = OutboxEvent.objects.order_by("seq")
    assert [r.state for r in rows[:5]] == ["acknowledged"] * 5
    assert [(r.state, r.attempts) for r in rows[5:10]] == [("failed", 1)] * 5
    assert [r.state for r in rows[10:]] == ["pending"] * 2


def test_retries_back_off_doubling_up_to_the_cap(receiver, settings, time_machine):
    # the cap the federation tests run with (harness.py); production's is 300 s
    settings.FEDERATION_MAX_BACKOFF_SECONDS = 4
    write(3)
    waits = []
    for _ in range(4):
        receiver.fail_next = True
        before = timezone.now()
        assert relay.relay_stream(stream=HUB).error.startswith("service.unavailable")
        due = OutboxEvent.objects.get(seq=1).next_attempt_at
        waits.append(round((due - before).total_seconds()))
        # nothing is sent again before the back-off has passed
        assert relay.relay_stream(stream=HUB).envelopes == 0
        time_machine.move_to(due + timedelta(milliseconds=1))
    assert waits == [2, 4, 4, 4]
    rows = OutboxEvent.objects.order_by("seq")
    assert [(r.state, r.attempts) for r in rows] == [("failed", 4)] * 3
    assert len(receiver.received) == 4
    # once it has passed, the receiver takes them
    relay.relay_stream(stream=HUB)
    assert set(states().values()) == {"acknowledged"}


def test_a_permanent_refusal_dead_letters_at_once_and_the_operator_retries_it(receiver, admin):
    # given: the first envelope acknowledged
    write(12)
    relay.relay_stream(stream=HUB, max_envelopes=1)
    # when: the receiver refuses the next envelope itself (403: it will never take it as sent)
    receiver.refuse_next = True
    result = relay.relay_stream(stream=HUB)
    # then: its rows are dead after one attempt, with the receiver's error; the rest wait
    assert result.error == "exchange.bad_signature: 交换信封签名验证失败"
    rows = OutboxEvent.objects.order_by("seq")
    assert [r.state for r in rows[:5]] == ["acknowledged"] * 5
    assert [(r.state, r.attempts) for r in rows[5:10]] == [("dead", 1)] * 5
    assert {r.last_error for r in rows[5:10]} == {result.error}
    assert [r.state for r in rows[10:]] == ["pending"] * 2
    # and nothing more is sent (the stream keeps its order) until an operator acts
    assert relay.relay_stream(stream=HUB).envelopes == 0
    assert receiver.received == [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]]
    dead = admin.get("/api/v1/federation/outbox/?state=dead").json()
    # the console lists newest first
    assert [(r["seq"], r["last_error"]) for r in dead["results"]] == [
        (seq, result.error) for seq in (10, 9, 8, 7, 6)
    ]
    retried = admin.post("/api/v1/federation/outbox/retry/", {"stream": HUB}, format="json")
    assert retried.json()["retried"] == 5
    relay.relay_stream(stream=HUB)
    assert receiver.received[2:] == [[6, 7, 8, 9, 10], [11, 12]]
    assert set(states().values()) == {"acknowledged"}


def test_envelopes_grow_while_the_receiver_answers_full_ones_quickly(receiver, settings):
    settings.FEDERATION_BATCH_SIZE, settings.FEDERATION_BATCH_MAX = 2, 8
    write(30)
    relay.relay_stream(stream=HUB)
    # each size is used twice: the envelope signed ahead was read before the answer came
    assert [len(seqs) for seqs in receiver.received] == [2, 2, 4, 4, 8, 8, 2]
    assert receiver.mark == 30 and set(states().values()) == {"acknowledged"}


def test_a_run_in_another_process_goes_on_from_the_size_the_stream_learnt(receiver, settings):
    settings.FEDERATION_BATCH_SIZE, settings.FEDERATION_BATCH_MAX = 2, 8
    write(30)
    relay.relay_stream(stream=HUB, max_envelopes=4)  # 2, 2, 4, 4: 8 learnt
    assert StreamState.objects.get(stream=HUB).envelope_size == 8
    sizing.forget()  # another process (a prefork child) knows nothing of it
    relay.relay_stream(stream=HUB, max_envelopes=1)
    assert [len(seqs) for seqs in receiver.received] == [2, 2, 4, 4, 8]


def test_a_slow_answer_or_a_slow_failure_halves_the_next_envelope(receiver, settings):
    settings.FEDERATION_BATCH_SIZE, settings.FEDERATION_BATCH_MIN = 8, 2
    settings.FEDERATION_HTTP_TIMEOUT = (3.0, 0.9)  # slow: answered after 0.3 s or more
    write(40)
    receiver.delay = 0.4
    relay.relay_stream(stream=HUB, max_envelopes=2)  # 8 answered slowly: 4 next
    receiver.fail_next = True  # … and fails slowly: 2 next
    assert relay.relay_stream(stream=HUB).error.startswith("service.unavailable")
    receiver.delay, receiver.fail_next = 0.0, True  # a failure at once: still 2
    OutboxEvent.objects.update(next_attempt_at=None)  # the back-off over
    assert relay.relay_stream(stream=HUB).error.startswith("service.unavailable")
    OutboxEvent.objects.update(next_attempt_at=None)
    relay.relay_stream(stream=HUB, max_envelopes=1)
    assert [len(seqs) for seqs in receiver.received] == [8, 8, 4, 2, 2]
    assert receiver.mark == 18


def test_the_size_stays_between_its_floor_and_ceiling():
    rule = Sizing(start=200, floor=20, ceiling=1000, slow=10.0)
    assert rule.after_ack(200, events=200, seconds=1.0) == 400
    assert rule.after_ack(800, events=800, seconds=1.0) == 1000
    assert rule.after_ack(200, events=150, seconds=1.0) == 200  # not full: nothing learnt
    assert rule.after_ack(200, events=200, seconds=5.0) == 200  # neither quick nor slow
    assert rule.after_ack(200, events=200, seconds=10.0) == 100
    assert rule.after_failure(30, seconds=12.0) == 20
    assert rule.after_failure(30, seconds=0.1) == 30  # refused at once: not about the size
