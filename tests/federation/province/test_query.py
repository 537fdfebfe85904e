"""One province (issue #13 items 2 and 3), over real HTTP between the hub and two cities: a 洛阳
counter asks about a 郑州 licence through 洛阳, which forwards to the hub; both logs hold the
access; the hub's record travels down to 郑州, where the issuer's usage view and the holder's
records list it once (a second delivery changes nothing); with the hub stopped 洛阳 answers
503 at once. Runs on the folder's one started province (conftest.py); the hub is started again after
the last step."""

import json
import time

import pytest
import requests

from tests.federation.harness import wait_until

CAUSE = "办理个体工商户跨市迁入登记，核验原营业执照"


def auth(token):
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def case(fed):
    """郑州's licence of 张伟 at the hub, and a province grant there for 洛阳's consumer agency
    on 郑州's type and matter (the hub operator's decision, made here in the hub's shell)."""
    hub, zz, ly = fed["hub"], fed["410100"], fed["410300"]
    personal = zz.credentials()["consumer"]["grants"][-1]  # 郑州's personal type and matter
    holder = zz.credentials()["holder"]
    held = [  # the seed's licence first (the demo also seeds one about to expire: notifications)
        row[0]
        for row in zz.sql(
            "SELECT l.identifier FROM licenses_license l JOIN catalog_licensetype t"
            " ON t.id = l.license_type_id WHERE t.type_code = %s AND l.holder_name = %s"
            " AND l.status = 'valid' ORDER BY l.id",
            (personal["type_code"], holder["name"]),
        )
    ]
    identifier = held[0]
    wait_until(
        lambda: hub.count("identifier = ANY(%s)", (held,)) == len(held),
        timeout=120,
        message="郑州's licences at the hub",
    )
    consumer = ly.credentials()["consumer"]
    name, area, level = ly.sql(
        "SELECT name, area_code, level FROM accounts_agency WHERE code = %s",
        (consumer["agency_code"],),
    )[0]
    grant = (
        "from django.utils import timezone; from shared.access.models import Grant; "
        "from shared.accounts.models import Agency; from shared.catalog.models import LicenseType; "
        "a, _ = Agency.objects.get_or_create(code={code!r}, defaults=dict(name={name!r}, "
        "area_code={area!r}, level={level!r}, is_consumer=True)); "
        "Grant.objects.create(agency=a, license_type=LicenseType.objects.get(type_code={type!r}), "
        "matter_code={matter!r}, tier='province', valid_from=timezone.localdate())"
    )
    hub.manage(
        "shell",
        "-c",
        grant.format(
            code=consumer["agency_code"],
            name=name,
            area=area,
            level=level,
            type=personal["type_code"],
            matter=personal["matter_code"],
        ),
    )
    return {
        "identifier": identifier,
        "held": held,
        "matter": personal["matter_code"],
        "holder": {"code": holder["holder_code"], "code_type": holder["holder_code_type"]},
        "consumer": consumer,
    }


def test_a_luoyang_consumer_queries_a_zhengzhou_licence_through_luoyang(fed, case):
    hub, ly = fed["hub"], fed["410300"]
    # when: 洛阳's counter asks 洛阳 about a holder 洛阳 holds nothing for
    response = requests.post(
        f"{ly.url}/api/v1/share/query/",
        json={"holder": case["holder"], "matter_code": case["matter"], "use_cause": CAUSE},
        headers=auth(case["consumer"]["token"]),
        timeout=30,
    )
    # then: the hub answered from the province's aggregate
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["forwarded_to"] == "410000"
    assert sorted((r["identifier"], r["library_code"]) for r in body["results"]) == sorted(
        (identifier, "410100") for identifier in case["held"]
    )
    # and both libraries hold the record: 洛阳's says it was forwarded, the hub's names 洛阳
    assert ly.sql(
        "SELECT outcome, detail->>'forwarded_to', agency_code FROM access_accessrecord"
        " WHERE identifier = %s AND request_id = %s",
        (case["identifier"], body["request_id"]),
    ) == [("allowed", "410000", case["consumer"]["agency_code"])]
    assert hub.sql(
        "SELECT outcome, detail->>'forwarded_by', agency_code, source_library"
        " FROM access_accessrecord WHERE identifier = %s AND operation = 'query'",
        (case["identifier"],),
    ) == [("allowed", "410300", case["consumer"]["agency_code"], "410100")]
    # and a verify of that licence through 洛阳 is answered by the hub too (信息正确且有效)
    verified = requests.post(
        f"{ly.url}/api/v1/share/verify/",
        json={"identifier": case["identifier"], "matter_code": case["matter"], "use_cause": CAUSE},
        headers=auth(case["consumer"]["token"]),
        timeout=30,
    )
    assert verified.status_code == 200, verified.text
    assert (verified.json()["info_result"]["code"], verified.json()["forwarded_to"]) == (
        0,
        "410000",
    )
    # and a matter granted nowhere is refused by the hub as a local call is: 403 access.no_grant
    refused = requests.post(
        f"{ly.url}/api/v1/share/query/",
        json={"holder": case["holder"], "matter_code": "M-NOGRANT", "use_cause": CAUSE},
        headers=auth(case["consumer"]["token"]),
        timeout=30,
    )
    assert (refused.status_code, refused.json()["code"]) == (403, "access.no_grant")
    assert "用证授权" in refused.json()["message"]


def test_the_hubs_records_reach_zhengzhou_once(fed, case):
    hub, zz = fed["hub"], fed["410100"]
    issuer = zz.credentials()["issuer"]

    def usage():
        response = requests.get(
            f"{zz.url}/api/v1/access-log/",
            params={"identifier": case["identifier"]},
            headers=auth(issuer["token"]),
            timeout=10,
        )
        return [r for r in response.json()["results"] if r["origin_library"] == "410000"]

    # then: the hub's query and verify (step 1) are in 郑州's issuer's usage view
    wait_until(lambda: len(usage()) == 2, timeout=60, message="the hub's records at 郑州")
    assert sorted(r["operation"] for r in usage()) == ["query", "verify"]
    assert {r["agency_code"] for r in usage()} == {case["consumer"]["agency_code"]}
    # and in the holder's records (by 郑州's own holder digest) and the CSV, once each
    holder_records = (
        "SELECT count(*) FROM access_accessrecord r JOIN licenses_license l"
        " ON l.holder_code_digest = r.holder_digest WHERE l.identifier = %s"
        " AND r.origin_library = '410000'"
    )
    # (the query named each of the holder's licences: one record each, and the verify one more)
    assert zz.sql(holder_records, (case["identifier"],)) == [(len(case["held"]) + 1,)]
    csv = requests.get(
        f"{zz.url}/api/v1/access-log/export/",
        params={"identifier": case["identifier"]},
        headers=auth(issuer["token"]),
        timeout=10,
    ).text
    assert "记录来源库" in csv
    assert csv.count(",410000,") == 2
    sent = hub.sql(
        "SELECT count(*) FROM federation_outboxevent WHERE stream = '410100'"
        " AND kind = 'access.record'"
    )[0][0]
    # when: the hub delivers the query's record a second time (a new outbox row, same record)
    hub.manage(
        "shell",
        "-c",
        "from django.db import transaction; from shared.federation.models import OutboxEvent; "
        "from shared.federation.outbox import outbox_write; "
        "e = OutboxEvent.objects.filter(stream='410100', kind='access.record').order_by('seq')[0]; "
        "transaction.atomic(lambda: outbox_write(stream=e.stream, kind=e.kind, key=e.key, "
        "payload=e.payload))()",
    )
    wait_until(
        lambda: (
            hub.sql(
                "SELECT count(*) FROM federation_outboxevent WHERE stream = '410100'"
                " AND kind = 'access.record' AND state = 'acknowledged'"
            )
            == [(sent + 1,)]
        ),
        timeout=60,
        message="the second delivery acknowledged",
    )
    # then: still once, and 郑州's chain (with the imported records) verifies
    assert len(usage()) == 2
    report = zz.manage(
        "shell",
        "-c",
        "import json; from shared.access import log; log.checkpoint_create(); "
        "r = log.log_verify(); print(json.dumps({'ok': r.ok, 'problems': r.problems}))",
    ).stdout
    assert json.loads(report.strip().splitlines()[-1]) == {"ok": True, "problems": []}


def test_with_the_hub_stopped_luoyang_answers_503_at_once(fed, case):
    ly = fed["410300"]
    fed["hub"].stop("web")
    try:
        hub_down_is_answered_at_once(ly, case)
    finally:  # the province is shared with the folder's other modules
        fed["hub"].start_web()
        fed["hub"].wait_ready()


def hub_down_is_answered_at_once(ly, case):
    started = time.monotonic()
    response = requests.post(
        f"{ly.url}/api/v1/share/query/",
        json={
            "holder": case["holder"],
            "matter_code": case["matter"],
            "use_cause": CAUSE,
            "scope": "province",
        },
        headers=auth(case["consumer"]["token"]),
        timeout=30,
    )
    elapsed = time.monotonic() - started
    assert response.status_code == 503, response.text
    assert response.json()["code"] == "federation.hub_unavailable"
    assert "省级枢纽" in response.json()["message"]
    assert response.headers["Retry-After"] == "30"
    assert elapsed < 5
    # and the refusal is in 洛阳's log
    assert ly.sql(
        "SELECT count(*) FROM access_accessrecord WHERE reason_code = 'federation.hub_unavailable'"
    ) == [(1,)]
