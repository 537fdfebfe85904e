"""A rectification notice travels over real HTTP: issued at the hub by the supervisor for 郑州's
market regulator, it reaches the 郑州 node, where the agency's staff see it and answer; the
answer reaches the hub (a step, state answered) and the hub's new state comes back down."""

import requests

from tests.federation.harness import wait_until


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def test_a_notice_goes_down_to_the_city_and_its_answer_comes_back_up(federation):
    hub, node = federation["hub"], federation["410100"]
    supervisor = hub.credentials()["supervisor"]["token"]
    city = node.credentials()["issuer"]
    # the agency reaches the hub with the city's seeded licences
    wait_until(
        lambda: (
            hub.sql("SELECT count(*) FROM accounts_agency WHERE code = %s", (city["agency_code"],))
            == [(1,)]
        ),
        message="郑州's agency at the hub",
    )
    # when the supervisor issues a notice at the hub
    issued = requests.post(
        f"{hub.url}/api/v1/compliance/notices/",
        json={
            "rule": "aggregation.late",
            "agency_code": city["agency_code"],
            "summary": "近 30 天汇聚的证照中有 6 张超过汇聚时限",
        },
        headers=auth(supervisor),
        timeout=10,
    )
    assert issued.status_code == 201, issued.text
    notice_id = issued.json()["id"]
    assert issued.json()["city_code"] == "410100"

    # then the agency's staff see it at their node
    def at_node():
        response = requests.get(
            f"{node.url}/api/v1/compliance/notices/", headers=auth(city["token"]), timeout=10
        )
        return [n for n in response.json()["results"] if n["id"] == notice_id]

    wait_until(at_node, timeout=60, message="notice at the node")
    assert at_node()[0]["state"] == "issued"
    # when they answer there
    answered = requests.post(
        f"{node.url}/api/v1/compliance/notices/{notice_id}/answer/",
        json={"text": "已查明上行队列积压原因，扩容后每日核对汇聚回执"},
        headers=auth(city["token"]),
        timeout=10,
    )
    assert answered.status_code == 200, answered.text

    # then the hub records the answer as a step by the city's person
    def at_hub():
        response = requests.get(
            f"{hub.url}/api/v1/compliance/notices/{notice_id}/",
            headers=auth(supervisor),
            timeout=10,
        )
        return response.json()

    wait_until(lambda: at_hub()["state"] == "answered", timeout=60, message="answer at the hub")
    steps = at_hub()["steps"]
    assert [(s["kind"], s["library_code"]) for s in steps] == [
        ("issue", "410000"),
        ("answer", "410100"),
    ]
    assert steps[1]["text"] == "已查明上行队列积压原因，扩容后每日核对汇聚回执"
    assert city["username"] in steps[1]["actor_name"]
    # and the hub's state (revision 2) comes back down and replaces the city's copy
    wait_until(
        lambda: at_node()[0]["revision"] == 2 and not at_node()[0]["steps"][-1].get("pending"),
        timeout=60,
        message="the hub's state back at the node",
    )
    # the supervisor accepts: closed at both
    accepted = requests.post(
        f"{hub.url}/api/v1/compliance/notices/{notice_id}/accept/",
        json={"reason": "整改到位"},
        headers=auth(supervisor),
        timeout=10,
    )
    assert accepted.status_code == 200, accepted.text
    wait_until(lambda: at_node()[0]["state"] == "accepted", timeout=60, message="closed at node")
