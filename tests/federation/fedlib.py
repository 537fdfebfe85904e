"""Helpers for federation scenarios: issue through the real API, wait, reconcile, compare."""

import time
from datetime import timedelta

import requests
from django.utils import timezone

from tests.federation.harness import Library, wait_until
from tests.support import make_uscc

RELEASED = "status NOT IN ('pending', 'returned')"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def issuer(lib: Library) -> dict:
    return lib.credentials()["issuer"]


def surface_fields(lib: Library) -> list[str]:
    creds = issuer(lib)
    response = requests.get(
        f"{lib.url}/api/v1/catalog/types/{creds['type_codes'][0]}/",
        headers=auth(creds["token"]),
        timeout=10,
    )
    return response.json()["surface_schema"]["required"]


def item(lib: Library, fields: list[str], i: int, *, area: str | None = None) -> dict:
    today = timezone.localdate()
    area = area or (lib.code if lib.code != "410000" else "410100")
    return {
        "type_code": issuer(lib)["type_codes"][0],
        "number": f"R{lib.code}{i:07d}",
        "holder": {
            "name": f"可靠性测试企业{i}",
            "code": make_uscc(dept="91", area=area, body=f"R{i:07d}"),
            "code_type": "001",
        },
        "valid_from": today.isoformat(),
        "valid_to": (today + timedelta(days=365)).isoformat(),
        "mode": "online",
        "case_completed_at": timezone.now().isoformat(),
        "surface": {name: f"值{i}" for name in fields},
    }


def issue_batch(lib: Library, count: int, *, start: int = 0, wait: bool = True) -> str:
    fields = surface_fields(lib)
    creds = issuer(lib)
    response = requests.post(
        f"{lib.url}/api/v1/licenses/batches/",
        json={"mode": "bulk", "items": [item(lib, fields, start + i) for i in range(count)]},
        headers=auth(creds["token"]),
        timeout=60,
    )
    assert response.status_code == 202, response.text
    batch_id = response.json()["id"]
    if wait:
        wait_batch(lib, batch_id, count)
    return batch_id


def batch_state(lib: Library, batch_id: str) -> dict:
    return requests.get(
        f"{lib.url}/api/v1/licenses/batches/{batch_id}/",
        headers=auth(issuer(lib)["token"]),
        timeout=10,
    ).json()


def wait_batch(lib: Library, batch_id: str, count: int, timeout: float = 180) -> None:
    wait_until(
        lambda: batch_state(lib, batch_id)["state"] == "done",
        timeout=timeout,
        interval=0.5,
        message=f"batch {batch_id} done",
    )
    body = batch_state(lib, batch_id)
    assert (body["succeeded"], body["failed"]) == (count, 0), body


def act(lib: Library, identifier: str, action: str, **body) -> requests.Response:
    return requests.post(
        f"{lib.url}/api/v1/licenses/{identifier}/{action}/",
        json=body,
        headers=auth(issuer(lib)["token"]),
        timeout=30,
    )


def node_released(node: Library) -> int:
    return node.count(f"library_code = %s AND {RELEASED}", (node.code,))


def hub_copy(hub: Library, node: Library) -> int:
    return hub.count("library_code = %s", (node.code,))


def wait_synced(hub: Library, node: Library, timeout: float = 180) -> None:
    wait_until(
        lambda: (
            node.sql("SELECT count(*) FROM federation_outboxevent WHERE state <> 'acknowledged'")
            == [(0,)]
        ),
        timeout=timeout,
        interval=0.5,
        message="node outbox acknowledged",
    )


def reconcile(hub: Library, node: Library) -> dict[str, int]:
    out = hub.manage("reconcile", "--node", node.code).stdout
    return {k: int(v) for k, v in (part.split("=") for part in out.split()) if v.isdigit()}


def assert_converged(hub: Library, node: Library) -> None:
    """The closing check of every scenario: nothing pending, zero differences, equal counts."""
    wait_synced(hub, node)
    result = reconcile(hub, node)
    assert result["differences"] == 0, result
    assert hub_copy(hub, node) == node_released(node)
    states = (
        "SELECT l.identifier, l.version, l.status, l.pledged, l.last_event_seq "
        "FROM licenses_license l WHERE l.library_code = %s ORDER BY l.identifier"
    )
    assert hub.sql(states, (node.code,)) == node.sql(
        states.replace("WHERE", f"WHERE l.{RELEASED} AND"), (node.code,)
    )


def settle(seconds: float) -> None:
    time.sleep(seconds)
