"""Base-information comparison at issuance (art. 25) against a real HTTP registry service."""

import pytest

from shared.access.registry_reference import ReferenceRegistry
from shared.licenses.models import License
from tests.support import make_uscc

pytestmark = pytest.mark.django_db
HOLDER = make_uscc(dept="91", area="410100", body="MA3X7Y8L")


@pytest.fixture
def registry(settings):
    with ReferenceRegistry({("001", HOLDER): "郑州豫中食品有限公司"}) as service:
        settings.REGISTRY_ADAPTER = "http"
        settings.REGISTRY_URL = service.url
        yield service


def test_matching_holder_is_issued(registry, issuer, issue_payload):
    response = issuer.post("/api/v1/licenses/", issue_payload(), format="json")
    assert response.status_code == 201, response.json()
    assert registry.requests == [f"/legal-entities/{HOLDER}"]


def test_name_mismatch_blocks_issuance(registry, issuer, issue_payload):
    payload = issue_payload()
    payload["holder"]["name"] = "郑州另一家食品有限公司"
    response = issuer.post("/api/v1/licenses/", payload, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "holder.registry_mismatch"
    assert "法人库" in body["message"]
    assert License.objects.count() == 0


def test_unknown_holder_blocks_issuance(registry, issuer, issue_payload):
    payload = issue_payload()
    payload["holder"]["code"] = make_uscc(dept="91", area="410100", body="MA1111AA")
    response = issuer.post("/api/v1/licenses/", payload, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "holder.registry_not_found")


def test_full_width_brackets_and_spaces_are_the_same_name(registry, issuer, issue_payload):
    registry.entries[("001", HOLDER)] = "郑州豫中食品（集团）有限公司"
    payload = issue_payload()
    payload["holder"]["name"] = "郑州豫中食品(集团)有限公司 "
    assert issuer.post("/api/v1/licenses/", payload, format="json").status_code == 201


def test_registry_down_is_retryable_not_a_pass(settings, issuer, issue_payload):
    settings.REGISTRY_ADAPTER = "http"
    settings.REGISTRY_URL = "http://127.0.0.1:9"  # nothing listens there
    settings.REGISTRY_TIMEOUT = 1
    response = issuer.post("/api/v1/licenses/", issue_payload(), format="json")
    assert (response.status_code, response.json()["code"]) == (503, "registry.unavailable")
    assert License.objects.count() == 0


def test_switched_off_by_default(settings, issuer, issue_payload):
    assert settings.REGISTRY_ADAPTER == "off"
    assert issuer.post("/api/v1/licenses/", issue_payload(), format="json").status_code == 201
