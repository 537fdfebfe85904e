"""Failover drill (issue #16 item 4, docs/operations.md 高可用): the hub's PostgreSQL primary
dies while 郑州 issues, its streaming standby is promoted, and ingest carries on against it with
nothing lost.

The hub's DATABASE_URL names both servers in libpq's multi-host form with
`target_session_attrs=read-write`, as in production: no configuration changes at the switch,
every new connection (Django's health check drops the broken ones) finds the promoted standby.
Replication is asynchronous, so what the primary had acknowledged but not yet streamed is lost
with it; the city learns that from the hub's gap answer and resends (shared.federation.relay).
"""

import pytest

from tests.federation.fedlib import (
    assert_converged,
    batch_state,
    hub_copy,
    issue_batch,
    node_released,
    wait_batch,
    wait_synced,
)
from tests.federation.harness import wait_until
from tests.federation.pgcluster import StandbyPair


@pytest.fixture
def hub_pair():
    pair = StandbyPair()
    yield pair
    pair.drop()


def test_the_hub_fails_over_to_its_standby_while_the_node_issues(hub_pair, make_federation):
    # the cluster first, so it is dropped after the federation's processes stopped (dropped
    # under them, the teardown took 12–22 s against 4–7 s for the other federations)
    fed = make_federation(("hub", "410100"), clusters={"hub": hub_pair})
    hub, node = fed["hub"], fed["410100"]
    node.worker_queues = "default"  # the records' journey; files are not this drill's subject
    fed.start()
    wait_synced(hub, node)
    # given a standby streaming from the hub's primary, caught up
    assert hub_pair.streaming() == [("streaming", "async")]
    wait_until(hub_pair.replayed, timeout=30, message="standby caught up")
    assert hub.sql("SELECT inet_server_port()") == [(hub_pair.primary.port,)]
    # and 郑州 issuing: a bulk upload of 400 under way, arriving at the hub
    first = issue_batch(node, 400, wait=False)
    wait_until(lambda: hub_copy(hub, node) > 30, timeout=120, message="ingest under way")
    # when the primary dies (immediate stop: no checkpoint, connections cut) and the standby
    # is promoted
    at_switch = batch_state(node, first)["processed"], hub_copy(hub, node)
    hub_pair.fail_over()
    # then the hub's new connections reach the promoted standby, which accepts writes
    [(port, in_recovery, promoted_at)] = hub.sql(
        "SELECT inet_server_port(), pg_is_in_recovery(), now()"
    )
    assert (port, in_recovery) == (hub_pair.standby.port, False)
    # and ingest continues there: envelopes from 郑州 applied after the promotion
    applied_after = (
        "SELECT min(received_at) FROM federation_receivedenvelope "
        "WHERE sender = '410100' AND outcome = 'applied' AND applied > 0 AND received_at > %s"
    )
    wait_until(
        lambda: hub.sql(applied_after, (promoted_at,)) != [(None,)],
        timeout=60,
        message="ingest after the switch",
    )
    resumed = (hub.sql(applied_after, (promoted_at,))[0][0] - promoted_at).total_seconds()
    second = issue_batch(node, 100, start=400, wait=False)
    wait_batch(node, first, 400)
    wait_batch(node, second, 100)
    # and nothing is lost: every licence released at 郑州 is at the hub, reconciliation finds
    # zero differences, the states agree (assert_converged)
    assert_converged(hub, node)
    assert node_released(node) == hub_copy(hub, node)
    assert node.count("number LIKE 'R410100%%'") == 500
    gaps = hub.sql("SELECT count(*) FROM federation_receivedenvelope WHERE outcome = 'gap'")
    print(
        f"failover: at the switch 郑州 had processed {at_switch[0]}/400, the hub held "
        f"{at_switch[1]}; first envelope applied {resumed:.2f} s after the promotion; "
        f"gap answers (lost with the primary, resent) {gaps[0][0]}"
    )
