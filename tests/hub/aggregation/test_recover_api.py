"""`POST /api/v1/exchange/recover/` (issue #16): a city restored from an older dump takes back
its own licences from the hub's copy — and only its own, only with a token it signed."""

import json

import pytest

from shared.federation.outbox import license_key
from shared.licenses.models import License
from tests.hub.test_hardening_federation import LY, ZZ, City, _claims

pytestmark = pytest.mark.django_db
RECOVER = "/api/v1/exchange/recover/"


@pytest.fixture
def zz_licences(issuer, issue_payload):
    idents = []
    for i in range(2):
        response = issuer.post(
            "/api/v1/licenses/", issue_payload(number=f"RC{i:06d}"), format="json"
        )
        assert response.status_code == 201, response.content
        idents.append(response.json()["identifier"])
    License.objects.filter(identifier__in=idents).update(library_code=ZZ)
    return [License.objects.get(identifier=i) for i in idents]


def ask(anon, city, keys):
    body = json.dumps({"keys": keys}).encode()
    token = city.token(_claims("POST", RECOVER, body))
    return anon.generic(
        "POST", RECOVER, body, content_type="application/json", HTTP_X_EXCHANGE_TOKEN=token
    )


def test_a_city_takes_back_its_licences_whole(anon, zz_licences):
    zhengzhou = City(ZZ)
    keys = [license_key(lic) for lic in zz_licences] + ["no.such.licence"]
    # when
    response = ask(anon, zhengzhou, keys)
    # then: each as a whole-licence repair, its versions and events included
    assert response.status_code == 200, response.json()
    licences = response.json()["licences"]
    assert sorted(p["license"]["identifier"] for p in licences) == sorted(
        lic.identifier for lic in zz_licences
    )
    assert all(p["versions"] and p["events"] for p in licences)


def test_another_city_gets_nothing_of_it(anon, zz_licences):
    luoyang = City(LY)
    response = ask(anon, luoyang, [license_key(lic) for lic in zz_licences])
    assert response.status_code == 200
    assert response.json() == {"licences": []}


def test_unsigned_or_malformed_requests_are_refused(anon, zz_licences):
    unsigned = anon.post(RECOVER, {"keys": []}, format="json")
    assert unsigned.status_code == 401
    assert unsigned.json()["code"] == "exchange.auth_required"
    malformed = ask(anon, City(ZZ), "everything")
    assert malformed.status_code == 400
    assert malformed.json()["code"] == "exchange.recover_keys_invalid"
