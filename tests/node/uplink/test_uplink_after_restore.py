"""`federation after-restore` at a node (shared.federation.restore): the streams a restore held
stay silent until realigned past the hub's mark, and events written after the dump (before the
step ran) are renumbered after it rather than acknowledged unseen. The hub is the stand-in
library of tests/exchange_standin.py, reached over real HTTP by the real adapter: it holds a
high-water mark and answers the status call and envelopes as the hub does (the whole drill,
with a real hub, is tests/federation/test_federation_restore.py)."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from shared.audit.models import AuditEntry
from shared.exchange.envelopes import envelope_body
from shared.federation import relay, restore
from shared.federation.keys import export_public, peer_register
from shared.federation.models import OutboxEvent, StreamCounter, StreamState
from shared.federation.outbox import outbox_write
from tests.exchange_standin import StandIn, registered_standin

pytestmark = pytest.mark.django_db
HUB = "410000"


@pytest.fixture
def hub(settings):
    standin = registered_standin(settings, code=HUB)
    yield standin
    standin.stop()


@pytest.fixture
def unreachable_hub():
    key = export_public()
    # a port nothing listens on: the stand-in's, once stopped
    standin = StandIn(None)
    standin.stop()
    return peer_register(
        code=HUB, kid=key["kid"], public_key_pem=key["public_key_pem"], base_url=standin.url
    )


def write(n: int) -> list[OutboxEvent]:
    return [outbox_write(stream=HUB, kind="test.kind", key=f"k{i}", payload={}) for i in range(n)]


def test_a_held_stream_sends_nothing_and_after_restore_renumbers_what_came_after_the_dump(hub):
    # given: the restored outbox holds 1..3 (numbered before the dump); the hub got up to 7
    before_dump = write(3)
    dumped_at = timezone.now()
    OutboxEvent.objects.filter(pk__in=[r.pk for r in before_dump]).update(
        created_at=dumped_at - timedelta(minutes=5)
    )
    held = restore.streams_hold(dumped_at=dumped_at)
    assert held == [HUB]
    # two events written after the restore, before after-restore ran: numbered 4 and 5,
    # numbers the hub already holds for other events
    after = write(2)
    assert [r.seq for r in after] == [4, 5]
    # when the relay runs meanwhile: the held lease keeps it from sending
    assert relay.relay_stream(stream=HUB).envelopes == 0
    assert hub.envelopes == []
    hub.mark = 7
    report = restore.after_restore(recover=False)
    # then: the hub was asked its mark once, with a request token
    assert hub.status_calls == [settings.LIBRARY_CODE]
    assert all(hub.tokens)
    assert report["streams"] == [
        {
            "stream": HUB,
            "receiver_mark": 7,
            "counter_before": 5,
            "counter_after": 9,
            "renumbered": 2,
            "error": "",
        }
    ]
    old = OutboxEvent.objects.filter(pk__in=[r.pk for r in before_dump]).order_by("seq")
    assert [(r.seq, r.state) for r in old] == [
        (1, "acknowledged"),
        (2, "acknowledged"),
        (3, "acknowledged"),
    ]
    # written after the dump: after the hub's mark, still to be sent
    fresh = OutboxEvent.objects.filter(pk__in=[r.pk for r in after]).order_by("seq")
    assert [(r.seq, r.state) for r in fresh] == [(8, "pending"), (9, "pending")]
    assert StreamCounter.objects.get(stream=HUB).last == 9
    state = StreamState.objects.get(stream=HUB)
    assert (state.acked_seq, state.lease_owner, state.lease_until) == (7, "", None)
    assert outbox_write(stream=HUB, kind="test.kind", key="next", payload={}).seq == 10
    assert AuditEntry.objects.filter(action="federation.after_restore").count() == 1


def test_an_unreachable_hub_leaves_the_stream_held_and_fails_the_step(unreachable_hub):
    write(2)
    restore.streams_hold(dumped_at=timezone.now())
    # when: the real adapter, the hub's address unreachable
    report = restore.after_restore(recover=True)
    # then
    (stream,) = report["streams"]
    assert stream["error"].startswith("exchange.unreachable")
    assert report["recovered"] == {}  # nothing fetched from a hub not realigned with
    assert StreamState.objects.get(stream=HUB).lease_owner.startswith(restore.RESTORE_OWNER)
    assert StreamCounter.objects.get(stream=HUB).last == 2


def test_a_restore_without_ops_restore_is_caught_by_the_relay_not_acknowledged_unseen(hub):
    # given: the hub holds up to 20; this node (restored by hand) numbered only up to 12, and
    # its acknowledged rows end at 10
    acked = write(10)
    OutboxEvent.objects.filter(pk__in=[r.pk for r in acked]).update(
        state=OutboxEvent.State.ACKNOWLEDGED, created_at=timezone.now() - timedelta(minutes=5)
    )
    StreamState.objects.update_or_create(stream=HUB, defaults={"acked_seq": 10, "sent_seq": 10})
    new = write(2)
    # the hub holds up to 20: it answers 11 and 12 as ingest does, duplicates, nothing applied
    hub.mark = 20
    # when
    result = relay.relay_stream(stream=HUB)
    # then: sent, not acknowledged; the stream held for after-restore
    [envelope] = hub.envelopes
    assert [e["seq"] for e in envelope_body(envelope)["events"]] == [11, 12]
    assert (result.envelopes, result.acknowledged) == (1, 0)
    assert set(
        OutboxEvent.objects.filter(pk__in=[r.pk for r in new]).values_list("state", flat=True)
    ) == {"pending"}
    state = StreamState.objects.get(stream=HUB)
    assert state.lease_owner.startswith(restore.RESTORE_OWNER)
    assert state.last_error.startswith("federation.sender_behind")
    # and after-restore puts the two after the hub's mark
    restore.after_restore(recover=False)
    assert hub.status_calls == [settings.LIBRARY_CODE]
    assert sorted(
        OutboxEvent.objects.filter(pk__in=[r.pk for r in new]).values_list("seq", "state")
    ) == [(21, "pending"), (22, "pending")]
