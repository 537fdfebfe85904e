"""A city's review requests reach the hub over real HTTP like any other change: the demo's
(one of them flagged overdue), a new one with an attachment (metadata only at the hub), and its
corrected answer together with the licence's new version."""

import requests

from tests.federation.fedlib import auth, item, surface_fields
from tests.federation.harness import wait_until

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def mirrors(hub, where="TRUE", params=()):
    return hub.sql(
        "SELECT id::text, state, revision, overdue, requester_id, corrected_identifier "
        f"FROM reviews_reviewrequest WHERE library_code = '410100' AND {where} ORDER BY id",
        params,
    )


def test_review_requests_and_their_answers_reach_the_hub(federation):
    hub, node = federation["hub"], federation["410100"]
    creds = node.credentials()
    # the demo's requests travel first, overdue flag included, without their people
    seeded = node.sql("SELECT id::text, revision, overdue FROM reviews_reviewrequest ORDER BY id")
    assert len(seeded) == 4 and sum(overdue for _, _, overdue in seeded) == 1
    wait_until(
        lambda: [(r[0], r[2], r[3]) for r in mirrors(hub)] == seeded,
        timeout=30,
        message="the seeded requests arrive",
    )
    assert {r[4] for r in mirrors(hub)} == {None}
    # a new licence, disputed by the consumer with an attachment
    issuer = auth(creds["issuer"]["token"])
    created = requests.post(
        f"{node.url}/api/v1/licenses/",
        json=item(node, surface_fields(node), 21),
        headers=issuer,
        timeout=10,
    )
    assert created.status_code == 201, created.text
    ident = created.json()["identifier"]
    grant = creds["consumer"]["grants"][0]
    filed = requests.post(
        f"{node.url}/api/v1/reviews/",
        data={
            "identifier": ident,
            "reason": "持证主体名称与营业执照不一致",
            "fields": ["holder_name"],
            "matter_code": grant["matter_code"],
            "use_cause": "办理食品经营许可变更，核验原证",
        },
        files={"attachments": ("营业执照.pdf", PDF, "application/pdf")},
        headers=auth(creds["consumer"]["token"]),
        timeout=10,
    )
    assert filed.status_code == 201, filed.text
    review_id = filed.json()["id"]
    sm3 = filed.json()["attachments"][0]["sm3"]
    wait_until(
        lambda: mirrors(hub, "id = %s", (review_id,)) == [(review_id, "open", 1, False, None, "")],
        timeout=10,
        message="the new request arrives",
    )
    held = hub.sql(
        "SELECT name, sm3, size, content IS NULL FROM reviews_reviewattachment "
        "WHERE review_id = %s",
        (review_id,),
    )
    assert held == [("营业执照.pdf", sm3, len(PDF), True)]
    # the issuer corrects: the licence's new version and the answer arrive together
    answered = requests.post(
        f"{node.url}/api/v1/reviews/{review_id}/answer/",
        json={
            "outcome": "corrected",
            "reason": "名称登记有误，已更正",
            "holder_name": "联邦更正企业",
        },
        headers=issuer,
        timeout=10,
    )
    assert answered.status_code == 200, answered.text
    new_ident = answered.json()["corrected_identifier"]
    assert new_ident != ident
    wait_until(
        lambda: (
            mirrors(hub, "id = %s", (review_id,))
            == [(review_id, "corrected", 2, False, None, new_ident)]
        ),
        timeout=10,
        message="the answer arrives",
    )
    assert hub.sql(
        "SELECT holder_name, version FROM licenses_license WHERE identifier = %s", (new_ident,)
    ) == [("联邦更正企业", 2)]
    assert hub.sql("SELECT count(*) FROM federation_rejectedevent")[0][0] == 0
