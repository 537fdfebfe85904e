"""A city's changes reach the hub over real HTTP, in order, and reconciliation agrees."""

import requests

from shared.domain.canonical import sm3_hex
from tests.federation.fedlib import auth, item, surface_fields
from tests.federation.harness import wait_until


def reconcile(hub, node_code):
    out = hub.manage("reconcile", "--node", node_code).stdout
    return dict(part.split("=") for part in out.split())


def test_issue_and_lifecycle_reach_the_hub_and_reconcile_clean(federation):
    hub, node = federation["hub"], federation["410100"]
    creds = node.credentials()
    fields = surface_fields(node)
    # the seeded sample licences and catalogue travel first
    seeded = node.count("library_code = '410100' AND status NOT IN ('pending', 'returned')")
    wait_until(lambda: hub.count("library_code = '410100'") == seeded, message="seed arrives")
    # five demo types and the annual inspection demo's (#12) at each library
    assert hub.sql("SELECT count(*) FROM catalog_licensetype")[0][0] == 6 + 6
    # when a licence is issued and suspended at the node
    body = item(node, fields, 1)
    created = requests.post(
        f"{node.url}/api/v1/licenses/",
        json=body,
        headers=auth(creds["issuer"]["token"]),
        timeout=10,
    )
    assert created.status_code == 201, created.text
    ident = created.json()["identifier"]
    wait_until(lambda: hub.count("identifier = %s", (ident,)) == 1, timeout=10, message="issue")
    suspended = requests.post(
        f"{node.url}/api/v1/licenses/{ident}/suspend/",
        json={"reason": "联邦测试暂扣"},
        headers=auth(creds["issuer"]["token"]),
        timeout=10,
    )
    assert suspended.status_code == 200
    # then the hub holds the same state, events and versions
    wait_until(
        lambda: (
            hub.sql("SELECT status FROM licenses_license WHERE identifier = %s", (ident,))
            == [("suspended",)]
        ),
        timeout=10,
        message="suspend arrives",
    )
    events = hub.sql(
        "SELECT e.seq, e.action FROM licenses_licenseevent e JOIN licenses_license l "
        "ON l.id = e.license_id WHERE l.identifier = %s ORDER BY e.seq",
        (ident,),
    )
    assert events == [(1, "issue"), (2, "suspend")]
    # the arrival of this licence's key (type.issuer.serial): a serial alone also matches
    # another type's seeded licence with the same serial
    arrival = hub.sql(
        "SELECT lag_seconds, late FROM federation_arrival WHERE key = %s",
        (".".join(ident.split(".")[-5:-2]),),
    )
    assert len(arrival) == 1 and arrival[0][0] < 10
    # the node's outbox is fully acknowledged and reconciliation finds nothing
    wait_until(
        lambda: (
            node.sql("SELECT count(*) FROM federation_outboxevent WHERE state <> 'acknowledged'")
            == [(0,)]
        ),
        message="outbox acknowledged",
    )
    result = reconcile(hub, "410100")
    assert result["differences"] == "0"
    assert hub.count("library_code = '410100'") == node.count(
        "library_code = '410100' AND status NOT IN ('pending', 'returned')"
    )
    # the aggregation view shows the city
    admin = hub.credentials()["admin"]["token"]
    nodes = requests.get(f"{hub.url}/api/v1/aggregation/nodes/", headers=auth(admin), timeout=10)
    zhengzhou = next(n for n in nodes.json() if n["code"] == "410100")
    assert zhengzhou["high_water_mark"] > 0
    assert zhengzhou["licenses"] == seeded + 1
    assert zhengzhou["last_reconciliation"]["differences"] == 0


def test_access_log_checkpoints_are_witnessed_by_the_hub(federation):
    hub, node = federation["hub"], federation["410100"]
    forward = "from municipal_node.uplink.checkpoints import checkpoint_forward; print(checkpoint_forward())"
    first = int(node.manage("shell", "-c", forward).stdout.strip().splitlines()[-1])
    assert first > 0  # the demo seed made access records
    wait_until(
        lambda: (
            hub.sql(
                "SELECT tree_size, status FROM access_witness "
                "WHERE node_code = '410100' AND tree_size = %s",
                (first,),
            )
            == [(first, "consistent")]
        ),
        timeout=30,
        message="first checkpoint witnessed",
    )
    # more use at the node, a newer checkpoint, proven to extend the first
    creds = node.credentials()
    consumer = creds["consumer"]
    response = requests.post(
        f"{node.url}/api/v1/share/query/",
        json={
            "holder": {"code": creds["holder"]["holder_code"], "code_type": "111"},
            "matter_code": consumer["grants"][1]["matter_code"],
            "use_cause": "联邦测试：核验营业执照",
        },
        headers=auth(consumer["token"]),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    second = int(node.manage("shell", "-c", forward).stdout.strip().splitlines()[-1])
    assert second > first
    wait_until(
        lambda: (
            hub.sql(
                "SELECT tree_size, status FROM access_witness "
                "WHERE node_code = '410100' AND tree_size >= %s ORDER BY tree_size",
                (first,),
            )
            == [(first, "consistent"), (second, "consistent")]
        ),
        timeout=30,
        message="second checkpoint witnessed",
    )


def test_a_city_file_reaches_the_hub_by_digest(federation):
    hub, node = federation["hub"], federation["410100"]
    creds = node.credentials()
    created = requests.post(
        f"{node.url}/api/v1/licenses/",
        json=item(node, surface_fields(node), 7),
        headers=auth(creds["issuer"]["token"]),
        timeout=10,
    )
    assert created.status_code == 201, created.text
    ident = created.json()["identifier"]
    # the node renders and seals the file
    file_row = "SELECT state, sm3, size FROM files_licensefile WHERE identifier = %s"
    wait_until(
        lambda: node.sql(file_row, (ident,))[:1] and node.sql(file_row, (ident,))[0][0] == "ready",
        timeout=120,
        message="file ready at the node",
    )
    (_, sm3, size) = node.sql(file_row, (ident,))[0]
    at_node = requests.get(
        f"{node.url}/api/v1/licenses/{ident}/file.pdf",
        headers=auth(creds["issuer"]["token"]),
        timeout=10,
    )
    assert at_node.status_code == 200
    # the envelope carried the digest, not the bytes
    (payload,) = node.sql(
        "SELECT payload::text FROM federation_outboxevent WHERE kind = 'file.ready' "
        "AND payload->>'identifier' = %s",
        (ident,),
    )
    assert sm3 in payload[0] and len(payload[0]) < 600
    # the hub fetches it from the node and serves the same bytes
    remote = "SELECT state, sm3, size FROM federation_remotefile WHERE identifier = %s"
    wait_until(
        lambda: hub.sql(remote, (ident,)) == [("ready", sm3, size)],
        timeout=60,
        message="file fetched by the hub",
    )
    admin = hub.credentials()["admin"]["token"]
    at_hub = requests.get(
        f"{hub.url}/api/v1/licenses/{ident}/file.pdf", headers=auth(admin), timeout=10
    )
    assert at_hub.status_code == 200, at_hub.text
    assert at_hub.headers["Content-Type"] == "application/pdf"
    assert at_hub.content == at_node.content
    assert sm3_hex(at_hub.content) == sm3
    # the operator's view counts the city's files; reconciliation sees no difference
    nodes = requests.get(f"{hub.url}/api/v1/aggregation/nodes/", headers=auth(admin), timeout=10)
    zhengzhou = next(n for n in nodes.json() if n["code"] == "410100")
    assert zhengzhou["files"]["ready"] >= 1 and zhengzhou["files"]["failed"] == 0
    wait_until(
        lambda: (
            node.sql("SELECT count(*) FROM federation_outboxevent WHERE state <> 'acknowledged'")
            == [(0,)]
        ),
        message="outbox acknowledged",
    )
    assert reconcile(hub, "410100")["differences"] == "0"
