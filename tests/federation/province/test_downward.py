"""The hub's downward push to a city (art. 15): a licence the hub issues for a 郑州 holder goes
down to 郑州 only, and does not bounce back up."""

from datetime import timedelta

import requests
from django.utils import timezone

from tests.federation.fedlib import auth, wait_synced
from tests.federation.harness import wait_until
from tests.support import make_uscc


def test_licence_issued_at_the_hub_flows_down_to_the_holders_city(fed):
    hub, zhengzhou, luoyang = fed["hub"], fed["410100"], fed["410300"]
    creds = hub.credentials()["issuer"]
    schema = requests.get(
        f"{hub.url}/api/v1/catalog/types/{creds['type_codes'][0]}/",
        headers=auth(creds["token"]),
        timeout=10,
    ).json()["surface_schema"]
    today = timezone.localdate()
    body = {
        "type_code": creds["type_codes"][0],
        "number": "SJ-DOWN-0001",
        "holder": {
            "name": "郑州省级发证测试企业",
            "code": make_uscc(dept="91", area="410102", body="DWN00001"),
            "code_type": "001",
        },
        "valid_from": today.isoformat(),
        "valid_to": (today + timedelta(days=300)).isoformat(),
        "mode": "online",
        "case_completed_at": timezone.now().isoformat(),
        "surface": {name: "省级" for name in schema["required"]},
    }
    created = requests.post(
        f"{hub.url}/api/v1/licenses/", json=body, headers=auth(creds["token"]), timeout=10
    )
    assert created.status_code == 201, created.text
    ident = created.json()["identifier"]
    wait_until(
        lambda: zhengzhou.count("identifier = %s", (ident,)) == 1, timeout=30, message="down"
    )
    assert zhengzhou.sql(
        "SELECT library_code, status FROM licenses_license WHERE identifier = %s", (ident,)
    ) == [("410000", "valid")]
    assert luoyang.count("identifier = %s", (ident,)) == 0
    # and it does not bounce back up as if the city had issued it
    wait_synced(hub, zhengzhou)
    assert hub.count("identifier = %s", (ident,)) == 1
    assert (
        zhengzhou.sql(  # this licence's key (type.issuer.serial), not just its serial
            "SELECT count(*) FROM federation_outboxevent WHERE key = %s",
            (".".join(ident.split(".")[-5:-2]),),
        )
        == [(0,)]
    )
