"""Reliability scenarios with real processes (DESIGN §6, issue: nothing is lost).

Each ends with the node's outbox acknowledged, reconciliation reporting zero differences, and
the same licences in the same states on both sides. The node's worker leaves the `signing`
queue alone (as bench/sync): these scenarios are about the records' journey, and rendering
hundreds of files would only double their time (files travel in flows/ and province/).
"""

import json
import signal

import pytest
import requests

from shared.crypto.suites import get_suite
from shared.exchange.envelopes import envelope_body, seal, with_body
from tests.federation.fedlib import (
    act,
    assert_converged,
    batch_state,
    hub_copy,
    issue_batch,
    node_released,
    wait_batch,
    wait_synced,
)
from tests.federation.harness import wait_until
from tests.federation.pgcluster import Cluster


def federation(make_federation, **extra_env):
    """A hub and 郑州, whose worker takes every queue but `signing`."""
    fed = make_federation(("hub", "410100"), **extra_env)
    fed["410100"].worker_queues = "default"
    return fed


def test_hub_down_while_the_node_issues_300_then_back(make_federation):
    fed = federation(make_federation)
    hub, node = fed["hub"], fed["410100"]
    fed.start()
    wait_synced(hub, node)
    # given the hub is down
    hub.stop("web")
    hub.stop("worker")
    # when the node issues 300 licences and changes 30 of them
    issue_batch(node, 300)
    idents = [
        r[0]
        for r in node.sql(
            "SELECT identifier FROM licenses_license WHERE number LIKE 'R410100%%' ORDER BY id LIMIT 30"
        )
    ]
    for i, ident in enumerate(idents):
        action = (
            ("suspend", {"reason": "停机期间暂扣"}) if i % 2 else ("revoke", {"reason": "吊销"})
        )
        assert act(node, ident, action[0], **action[1]).status_code == 200
    failed = node.sql(
        "SELECT count(*), max(attempts) FROM federation_outboxevent WHERE state IN ('failed', 'sent')"
    )
    assert failed[0][0] > 0  # the relay tried and recorded the failures
    # then, once the hub is back, everything arrives
    fed.start("hub")
    assert_converged(hub, node)
    assert hub.count("library_code = '410100' AND status = 'revoked'") == 15


def test_worker_killed_mid_batch(make_federation):
    fed = federation(make_federation, BATCH_STALE_SECONDS="4")
    hub, node = fed["hub"], fed["410100"]
    fed.start()
    batch_id = issue_batch(node, 300, wait=False)
    wait_until(
        lambda: batch_state(node, batch_id)["processed"] >= 40,
        timeout=120,
        message="batch under way",
    )
    # SIGKILL the whole worker (pool children included), mid-batch and mid-relay
    node.stop("worker", sig=signal.SIGKILL)
    processed = batch_state(node, batch_id)["processed"]
    assert processed < 300
    node.start_worker()
    wait_batch(node, batch_id, 300)
    assert node.count("number LIKE 'R410100%%'") == 300  # nothing issued twice
    assert_converged(hub, node)


def envelope(node, first, last):
    return json.loads(
        node.manage(
            "federation",
            "envelope",
            "--stream",
            "410000",
            "--from-seq",
            str(first),
            "--to-seq",
            str(last),
        ).stdout
    )


# OutboxEvent rows 1..total as the envelopes 1..mid, mid+1..total and 1..total, signed as
# `federation envelope --stream 410000` signs them (relay.envelope_for)
ENVELOPES = (
    "import json; from shared.federation.models import OutboxEvent; "
    "from shared.federation.relay import envelope_for; "
    "total = OutboxEvent.objects.count(); mid = total // 2; "
    "print(json.dumps({'total': total, 'envelopes': [envelope_for(stream='410000', first=a, "
    "last=b) for a, b in ((1, mid), (mid + 1, total), (1, total))]}, ensure_ascii=False))"
)


def post(hub, body):
    return requests.post(f"{hub.url}/api/v1/exchange/envelopes/", json=body, timeout=30)


def test_forged_duplicate_replayed_and_out_of_order_envelopes(make_federation):
    fed = federation(make_federation)
    hub, node = fed["hub"], fed["410100"]
    fed.start("hub")
    node.start_web()
    node.wait_ready()  # no worker at the node: nothing is relayed but what the test sends
    forged_envelopes_are_refused_and_logged(hub, node)
    duplicates_replays_and_gaps_are_refused_or_ignored(hub, node)
    node.start_worker()
    assert_converged(hub, node)


def forged_envelopes_are_refused_and_logged(hub, node):
    real = envelope(node, 1, 3)
    hub_types = hub.sql("SELECT count(*) FROM catalog_licensetype")[0][0]  # the hub's own
    suite = get_suite("gm")
    forger = suite.generate_key()
    forged = seal(
        key=forger,
        kid=real["kid"],  # claims the node's key id
        sender="410100",
        receiver="410000",
        stream="410000",
        events=envelope_body(real)["events"],
        now=__import__("django.utils.timezone", fromlist=["now"]).now(),
    )
    response = post(hub, forged)
    assert response.status_code == 403
    assert response.json()["code"] == "exchange.bad_signature"
    body = envelope_body(real)
    body["events"][0]["payload"]["type"] = {"type_code": "X"}
    tampered = with_body(real, body)
    assert post(hub, tampered).json()["code"] == "exchange.bad_signature"
    assert hub.sql(
        "SELECT count(*) FROM federation_receivedenvelope WHERE outcome = 'refused' AND error_code = 'exchange.bad_signature'"
    ) == [(2,)]
    assert hub_copy(hub, node) == 0
    assert hub.sql("SELECT count(*) FROM catalog_licensetype")[0][0] == hub_types


def duplicates_replays_and_gaps_are_refused_or_ignored(hub, node):
    # the three envelopes signed in one process (`federation envelope` is what it runs; each
    # Django start-up costs seconds on a busy host)
    signed = json.loads(node.manage("shell", "-c", ENVELOPES).stdout.strip().splitlines()[-1])
    total = signed["total"]
    assert total > 10
    mid = total // 2
    first, second, whole = signed["envelopes"]
    # the later batch first: refused as a gap that names where to resume
    gap = post(hub, second)
    assert gap.status_code == 409
    assert gap.json()["code"] == "exchange.gap"
    assert gap.json()["detail"]["expected"] == 1
    assert post(hub, first).json()["high_water_mark"] == mid
    assert post(hub, second).json()["high_water_mark"] == total
    # the same envelope again: a replay, refused and logged; the same events anew: ignored
    replay = post(hub, first)
    assert replay.status_code == 409
    assert replay.json()["code"] == "exchange.replay"
    again = post(hub, whole)
    assert again.status_code == 200
    assert (again.json()["applied"], again.json()["duplicates"]) == (0, total)
    logged = hub.sql(
        "SELECT outcome, count(*) FROM federation_receivedenvelope GROUP BY outcome ORDER BY outcome"
    )
    # (the two forgeries before count among the refused)
    assert dict(logged) == {"applied": 2, "duplicate": 1, "gap": 1, "refused": 3}


@pytest.fixture
def hub_cluster():
    cluster = Cluster()
    yield cluster
    cluster.drop()


def test_postgresql_restart_at_the_hub_during_ingest(hub_cluster, make_federation):
    # the cluster first, so it is dropped after the federation's processes stopped (dropped
    # under them, the teardown took 12–22 s against 4–7 s for the other federations)
    # the hub's database on a cluster of its own: restarting it cuts no other suite's connections
    fed = federation(make_federation, clusters={"hub": hub_cluster})
    hub, node = fed["hub"], fed["410100"]
    fed.start()
    wait_synced(hub, node)
    batch_id = issue_batch(node, 300, wait=False)
    wait_until(lambda: hub_copy(hub, node) > 20, timeout=120, message="ingest under way")
    hub_cluster.restart()
    wait_batch(node, batch_id, 300)
    assert_converged(hub, node)
    assert node_released(node) == hub_copy(hub, node)
