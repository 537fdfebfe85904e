"""Bulk analysis across tiers over real HTTP (issue #13 item 4): a province-wide consumer asks
the hub for an analysis of 郑州's licence type; the request goes down to 郑州, where the issuer
decides it in its own 批量分析审批; the decision comes back up and only an approval lets the hub
export, from its aggregate, within the approved fields and the row cap. One federation (hub +
410100, the folder's) serves both steps."""

import csv
import io

import pytest
import requests

from tests.federation.fedlib import auth, issuer, wait_synced
from tests.federation.harness import wait_until

FIELDS = ["identifier", "holder_name", "valid_to"]


@pytest.fixture(scope="module")
def fed(federation):
    """The folder's running federation, once the seeded catalogue and licences are at the hub."""
    wait_synced(federation["hub"], federation["410100"])
    return federation


def ask(hub, type_code: str, purpose: str) -> str:
    """The hub's consumer applies for 郑州's type; the hub hands it to 郑州."""
    response = requests.post(
        f"{hub.url}/api/v1/bulk-requests/",
        json={
            "type_codes": [type_code],
            "fields": FIELDS,
            "period_from": "2000-01-01",
            "period_to": "2099-12-31",
            "matter_code": "M0001",
            "purpose": purpose,
            "row_cap": 2,
        },
        headers=auth(hub.credentials()["consumer"]["token"]),
        timeout=10,
    )
    assert response.status_code == 201, response.text
    assert response.json()["decider_library"] == "410100"
    return response.json()["id"]


def at(lib, token: str, pk: str) -> dict:
    response = requests.get(
        f"{lib.url}/api/v1/bulk-requests/{pk}/", headers=auth(token), timeout=10
    )
    return response.json() if response.status_code == 200 else {}


def decide_in_zhengzhou(node, pk: str, decision: str, body: dict) -> None:
    token = issuer(node)["token"]
    wait_until(lambda: at(node, token, pk).get("state") == "pending", message="request at 郑州")
    assert at(node, token, pk)["origin_library"] == "410000"
    response = requests.post(
        f"{node.url}/api/v1/bulk-requests/{pk}/{decision}/",
        json=body,
        headers=auth(token),
        timeout=10,
    )
    assert response.status_code == 200, response.text


def test_approved_in_zhengzhou_the_hub_exports_the_rows(fed):
    hub, node = fed["hub"], fed["410100"]
    type_code = issuer(node)["type_codes"][0]
    consumer = hub.credentials()["consumer"]["token"]
    pk = ask(hub, type_code, "全省食品经营主体分布统计分析")
    decide_in_zhengzhou(node, pk, "approve", {"fields": ["identifier", "holder_name"]})
    wait_until(
        lambda: at(hub, consumer, pk).get("state") in ("ready", "failed"),
        timeout=60,
        message="export at the hub",
    )
    assert at(hub, consumer, pk)["state"] == "ready"
    download = requests.get(
        f"{hub.url}/api/v1/bulk-requests/{pk}/download/", headers=auth(consumer), timeout=10
    )
    assert download.status_code == 200, download.text
    rows = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert rows[0] == ["identifier", "holder_name"]  # the approved fields only
    held = node.sql(
        "SELECT l.identifier FROM licenses_license l JOIN catalog_licensetype t "
        "ON t.id = l.license_type_id WHERE t.type_code = %s AND l.status NOT IN "
        "('pending', 'returned')",
        (type_code,),
    )
    assert len(rows) - 1 == min(len(held), 2) > 0  # the row cap
    assert {row[0] for row in rows[1:]} <= {identifier for (identifier,) in held}


def test_refused_in_zhengzhou_the_hub_exports_nothing(fed):
    hub, node = fed["hub"], fed["410100"]
    consumer = hub.credentials()["consumer"]["token"]
    pk = ask(hub, issuer(node)["type_codes"][0], "全省食品经营主体名录核对")
    decide_in_zhengzhou(node, pk, "refuse", {"reason": "用途与所申请字段不相称"})
    wait_until(
        lambda: at(hub, consumer, pk).get("state") == "refused", message="refusal at the hub"
    )
    assert at(hub, consumer, pk)["decision_reason"] == "用途与所申请字段不相称"
    download = requests.get(
        f"{hub.url}/api/v1/bulk-requests/{pk}/download/", headers=auth(consumer), timeout=10
    )
    assert (download.status_code, download.json()["code"]) == (409, "bulk.not_ready")
    assert hub.sql(
        "SELECT state, file_path, attempts FROM access_bulkrequest WHERE id = %s", (pk,)
    ) == [("refused", "", 0)]
