"""The AMQP exchange bus as transport (the hub's downward push runs in province/)."""

import uuid

from tests.federation.fedlib import assert_converged, issue_batch


def test_envelopes_travel_through_rabbitmq(make_federation):
    exchange = f"elicense.test.{uuid.uuid4().hex[:8]}"
    fed = make_federation(("hub", "410100"), EXCHANGE_ADAPTER="amqp", AMQP_EXCHANGE=exchange)
    hub, node = fed["hub"], fed["410100"]
    fed.start()
    hub.start_consumer()
    issue_batch(node, 60)
    assert_converged(hub, node)
    transports = hub.sql("SELECT DISTINCT transport FROM federation_receivedenvelope")
    assert transports == [("amqp",)]
