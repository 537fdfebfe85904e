"""网络年检 across the federation (issue #12): a city's automatic suspension of a licence not
inspected when its window closed reaches the hub over real HTTP, with its reason and cause, as
do the city's inspections; a late approval at the city resumes the licence at the hub too.

The seeded demo type (window 01-01 – 06-30) and its three licences are used; their issue time
is moved two years back in the city's database, so the latest closed window is one they were
held to, whatever today's date.
"""

import requests

from tests.federation.fedlib import assert_converged, auth
from tests.federation.harness import wait_until

PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n"


def hub_licence(hub, ident):
    rows = hub.sql(
        "SELECT status, inspected_year FROM licenses_license WHERE identifier = %s", (ident,)
    )
    return rows[0] if rows else None


def hub_last_event(hub, ident):
    return hub.sql(
        "SELECT e.action, e.reason, e.data FROM licenses_licenseevent e JOIN licenses_license l "
        "ON l.id = e.license_id WHERE l.identifier = %s ORDER BY e.seq DESC LIMIT 1",
        (ident,),
    )[0]


def test_the_automatic_suspension_and_the_late_approval_reach_the_hub(federation):
    hub, node = federation["hub"], federation["410100"]
    creds = node.credentials()
    missed = creds["inspections"]["identifiers"][2]  # the licence nobody submitted for
    wait_until(lambda: hub_licence(hub, missed) == ("valid", None), message="seed arrives")
    # the seeded submissions are mirrored at the hub, their materials by digest only
    wait_until(
        lambda: (
            sorted(
                hub.sql("SELECT state FROM inspections_inspection WHERE library_code = '410100'")
            )
            == [("approved",), ("submitted",)]
        ),
        message="inspections arrive",
    )
    assert (
        hub.sql("SELECT count(*) FROM inspections_inspectionmaterial WHERE content IS NULL")[0][0]
        == 2
    )
    # given: the licences were issued two years ago
    node.sql(
        "UPDATE licenses_license SET created_at = created_at - interval '2 years' "
        "WHERE license_type_id IN (SELECT id FROM catalog_licensetype WHERE annual_inspection)"
    )
    # when: the daily run at the city
    out = node.manage("inspections", "close-window").stdout
    assert out.strip() == "suspended=1", out
    year = node.sql(
        "SELECT e.data FROM licenses_licenseevent e JOIN licenses_license l "
        "ON l.id = e.license_id WHERE l.identifier = %s ORDER BY e.seq DESC LIMIT 1",
        (missed,),
    )[0][0]["year"]
    # then: the hub holds the suspension with its reason and cause
    wait_until(
        lambda: hub_licence(hub, missed) == ("suspended", None), message="suspension arrives"
    )
    assert hub_last_event(hub, missed) == (
        "suspend",
        f"未按期完成年检（{year} 年度）",
        {"cause": "inspection", "year": year},
    )
    # when: the issuer submits on the holder's behalf, late, and approves
    token = creds["issuer"]["token"]
    created = requests.post(
        f"{node.url}/api/v1/inspections/",
        data={"identifier": missed, "note": "逾期补交"},
        files={"attachments": ("报告.pdf", PDF, "application/pdf")},
        headers=auth(token),
        timeout=30,
    )
    assert created.status_code == 201, created.text
    approved = requests.post(
        f"{node.url}/api/v1/inspections/{created.json()['id']}/approve/",
        json={"reason": "逾期补交，材料齐全"},
        headers=auth(token),
        timeout=30,
    )
    assert approved.status_code == 200, approved.text
    inspected = approved.json()["year"]
    # then: resumed at the hub too, with the year inspected, and the inspection mirrored
    wait_until(lambda: hub_licence(hub, missed) == ("valid", inspected), message="resume arrives")
    assert hub_last_event(hub, missed) == (
        "resume",
        "年检通过，恢复",
        {"actor": creds["issuer"]["username"]},
    )
    wait_until(
        lambda: (
            hub.sql(
                "SELECT state, revision, decision_reason FROM inspections_inspection WHERE id = %s",
                (created.json()["id"],),
            )
            == [("approved", 2, "逾期补交，材料齐全")]
        ),
        message="approval arrives",
    )
    assert_converged(hub, node)
