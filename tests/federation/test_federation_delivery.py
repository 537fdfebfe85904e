"""A city's changes reach the hub over real HTTP, in order, and reconciliation agrees."""

from datetime import timedelta

import requests
from django.utils import timezone

from tests.federation.harness import wait_until
from tests.support import make_uscc


def issue_body(creds, type_schema_fields, i, *, mode="online"):
    today = timezone.localdate()
    return {
        "type_code": creds["issuer"]["type_codes"][0],
        "number": f"FED{i:06d}",
        "holder": {
            "name": f"联邦测试企业{i}",
            "code": make_uscc(dept="91", area="410100", body=f"FT{i:06d}"),
            "code_type": "001",
        },
        "valid_from": today.isoformat(),
        "valid_to": (today + timedelta(days=365)).isoformat(),
        "mode": mode,
        "case_completed_at": timezone.now().isoformat(),
        "surface": {name: f"测试{i}" for name in type_schema_fields},
    }


def required_fields(lib, creds):
    response = requests.get(
        f"{lib.url}/api/v1/catalog/types/{creds['issuer']['type_codes'][0]}/",
        headers=auth(creds["issuer"]["token"]),
        timeout=10,
    )
    return response.json()["surface_schema"]["required"]


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def reconcile(hub, node_code):
    out = hub.manage("reconcile", "--node", node_code).stdout
    return dict(part.split("=") for part in out.split())


def test_issue_and_lifecycle_reach_the_hub_and_reconcile_clean(make_federation):
    fed = make_federation(("hub", "410100"))
    hub, node = fed["hub"], fed["410100"]
    fed.start()
    creds = node.credentials()
    fields = required_fields(node, creds)
    # the seeded sample licences and catalogue travel first
    seeded = node.count("library_code = '410100' AND status NOT IN ('pending', 'returned')")
    wait_until(lambda: hub.count("library_code = '410100'") == seeded, message="seed arrives")
    assert hub.sql("SELECT count(*) FROM catalog_licensetype")[0][0] == 5 + 5
    # when a licence is issued and suspended at the node
    body = issue_body(creds, fields, 1)
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
    arrival = hub.sql(
        "SELECT lag_seconds, late FROM federation_arrival WHERE key LIKE %s",
        (f"%{ident.split('.')[-3]}",),
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


def test_access_log_checkpoints_are_witnessed_by_the_hub(make_federation):
    fed = make_federation(("hub", "410100"))
    hub, node = fed["hub"], fed["410100"]
    fed.start()
    forward = (
        "from shared.federation.checkpoints import checkpoint_forward; print(checkpoint_forward())"
    )
    first = int(node.manage("shell", "-c", forward).stdout.strip().splitlines()[-1])
    assert first > 0  # the demo seed made access records
    wait_until(
        lambda: (
            hub.sql("SELECT tree_size, status FROM access_witness WHERE node_code = '410100'")
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
                "SELECT tree_size, status FROM access_witness WHERE node_code = '410100' ORDER BY tree_size"
            )
            == [(first, "consistent"), (second, "consistent")]
        ),
        timeout=30,
        message="second checkpoint witnessed",
    )
