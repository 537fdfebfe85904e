"""The beat's relay sweep kicks every active peer's stream that still holds something not
acknowledged, and only those, by one index probe per peer (after an outage a stream may hold
millions of rows: the sweep used to fetch one row per unacknowledged event to find the streams)."""

import pytest

from shared.federation import tasks
from shared.federation.models import OutboxEvent, Peer
from shared.federation.outbox import outbox_write

pytestmark = pytest.mark.django_db


def peer(code, active=True):
    return Peer.objects.create(code=code, kid=f"k{code}", public_pem="-", active=active)


def test_the_sweep_kicks_active_streams_with_rows_waiting(
    monkeypatch, django_assert_max_num_queries
):
    for code in ("410000", "410300", "410500", "410700"):
        peer(code, active=code != "410500")
    for n in range(50):
        outbox_write(stream="410000", kind="test.event", key=f"a{n}", payload={"n": n})
    outbox_write(stream="410300", kind="test.event", key="b", payload={})  # acknowledged below
    outbox_write(stream="410500", kind="test.event", key="c", payload={})  # inactive peer
    outbox_write(stream="410700", kind="test.event", key="d", payload={})  # dead-lettered
    OutboxEvent.objects.filter(stream="410300").update(state=OutboxEvent.State.ACKNOWLEDGED)
    OutboxEvent.objects.filter(stream="410700").update(state=OutboxEvent.State.DEAD)
    kicked = []
    monkeypatch.setattr(tasks.relay_stream, "delay", kicked.append)
    # when: one query for the peers, one probe per active peer
    with django_assert_max_num_queries(4):
        count = tasks.relay_sweep()
    # then
    assert (count, kicked) == (1, ["410000"])
