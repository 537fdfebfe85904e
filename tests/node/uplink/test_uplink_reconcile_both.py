"""What a node serves the hub's two-way reconciliation (issue #13 item 5): the digests of the
hub's licences it holds (to the hub only), its catalogue's digests, and a resend of its own
types; a hub licence the hub resends down is taken from the hub only."""

import json
import time

import pytest

from shared.crypto.suites import suite_for_key
from shared.crypto.tokens import sign_token
from shared.federation.apply import HANDLERS
from shared.federation.auth import body_digest
from shared.federation.digests import type_digests
from shared.federation.keys import export_public, peer_register, signing_key
from shared.federation.models import OutboxEvent
from shared.federation.outbox import repair_payload
from shared.federation.reconciliation import digests_for
from shared.licenses.models import License
from tests.support import make_agency, make_type, make_user, token_client

pytestmark = pytest.mark.django_db

HUB, LY = "410000", "410300"


def signed_post(client, path, data, issuer_code=HUB):
    """POST `data` to this node signed as `issuer_code` (this test library's own key,
    registered as that peer)."""
    peer_register(code=issuer_code, **{k: export_public()[k] for k in ("kid", "public_key_pem")})
    body = json.dumps(data).encode()
    kid, key = signing_key()
    now = int(time.time())
    claims = {"iss": issuer_code, "aud": "410100", "iat": now, "exp": now + 60}
    claims |= {"htm": "POST", "htu": path, "bdh": body_digest(body)}
    token = sign_token(suite=suite_for_key(key), key=key, kid=kid, claims=claims)
    return client.post(
        path, data=body, content_type="application/json", HTTP_X_EXCHANGE_TOKEN=token
    )


def test_the_hub_asks_the_node_to_resend_its_types(client, license_type):
    # given: one of this city's published types, and a code the city does not hold
    before = OutboxEvent.objects.filter(kind="catalog.type").count()
    # when
    response = signed_post(
        client,
        "/api/v1/federation/resend/",
        {"keys": [], "types": [license_type.type_code, "99999999999999999999X001"]},
    )
    # then: one catalog.type event, the type as the city holds it
    assert response.status_code == 200, response.json()
    assert response.json() == {"queued": 0, "types_queued": 1}
    (event,) = OutboxEvent.objects.filter(kind="catalog.type")[before:]
    assert (event.stream, event.key) == (HUB, license_type.type_code)
    assert event.payload["type"]["name"] == license_type.name


def test_the_node_serves_its_catalogue_digests_and_the_hubs_licences_to_the_hub_only(
    client, license_type, issuer, issue_payload
):
    # given: a licence that came down from the hub
    response = issuer.post("/api/v1/licenses/", issue_payload(), format="json")
    License.objects.filter(identifier=response.json()["identifier"]).update(library_code=HUB)
    path = "/api/v1/federation/digests/"
    # the catalogue: this city's types, by digest
    types = signed_post(client, path, {"scope": "410100", "level": 0, "kind": "types"})
    assert types.status_code == 200
    assert types.json()["digests"] == {k: list(v) for k, v in type_digests("410100").items()}
    assert license_type.type_code in types.json()["digests"]
    # the hub's licences held here: to the hub
    down = signed_post(client, path, {"scope": HUB, "level": 0, "prefixes": []})
    assert down.status_code == 200
    assert down.json() == digests_for(scope=HUB, level=0, prefixes=[])
    assert sum(count for count, _ in down.json()["digests"].values()) == 1
    # not to another city, and not the hub's catalogue
    other = signed_post(client, path, {"scope": HUB, "level": 0}, issuer_code=LY)
    assert (other.status_code, other.json()["code"]) == (403, "exchange.forbidden")
    hub_types = signed_post(client, path, {"scope": HUB, "level": 0, "kind": "types"})
    assert (hub_types.status_code, hub_types.json()["code"]) == (403, "exchange.forbidden")
    bad = signed_post(client, path, {"scope": "410100", "level": 0, "kind": "files"})
    assert bad.status_code == 400


def test_a_hub_licence_is_repaired_at_the_node_from_the_hub_only(issue_payload):
    from shared.core.errors import PermanentError

    # given: a provincial agency's licence held here (as the hub pushed it), altered by hand
    agency = make_agency(
        "河南省市场监督管理局", body="00009001", area=HUB, level="province", is_issuer=True
    )
    user = make_user("province_issuer", agency)
    hub_type = make_type(user, seq=9, requires_review=False, issuer_level="province")
    body = issue_payload(type_code=hub_type.type_code, number="SJ000001")
    response = token_client(user).post("/api/v1/licenses/", body, format="json")
    assert response.status_code == 201, response.content
    lic = License.objects.get(identifier=response.json()["identifier"])
    License.objects.filter(pk=lic.pk).update(library_code=HUB)
    lic.refresh_from_db()
    owners = repair_payload(lic)
    License.objects.filter(pk=lic.pk).update(holder_name="被改动的持证人")
    # when: another city sends the repair, nothing changes
    with pytest.raises(PermanentError) as refused:
        HANDLERS["license.repair"](owners, sender=LY)
    assert refused.value.code == "federation.not_owner"
    assert License.objects.get(pk=lic.pk).holder_name == "被改动的持证人"
    # the hub's repair restores it
    HANDLERS["license.repair"](owners, sender=HUB)
    assert License.objects.get(pk=lic.pk).holder_name == lic.holder_name
