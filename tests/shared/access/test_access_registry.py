"""Base-information comparison at issuance (art. 25) against a real HTTP registry service."""

import io
from datetime import date, datetime

import pytest
from django.db import connection
from PIL import Image

from shared.access.registry import HttpRegistry
from shared.access.registry_reference import ReferenceRegistry
from shared.files.services import legacy_issue
from shared.licenses.batches import batch_create, batch_process
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


def test_the_registry_is_asked_outside_any_transaction(
    registry, issuer, issuer_user, issue_payload, monkeypatch
):
    # given: the depth of the test's own transaction, and each lookup's depth recorded
    outside, depths = len(connection.atomic_blocks), []
    real = HttpRegistry.lookup

    def lookup(self, **kwargs):
        depths.append(len(connection.atomic_blocks))
        return real(self, **kwargs)

    monkeypatch.setattr(HttpRegistry, "lookup", lookup)
    # when: a licence is issued through the API, one by a bulk upload's job, one digitised
    assert issuer.post("/api/v1/licenses/", issue_payload(), format="json").status_code == 201
    batch = batch_create(
        actor=issuer_user, mode="bulk", items=[issue_payload(number="JY14101000012346")]
    )
    assert batch_process(batch_id=str(batch.pk)).succeeded == 1
    scan = io.BytesIO()
    Image.new("RGB", (40, 30), "white").save(scan, format="PNG")
    values = issue_payload(number="JY14101000012347")
    del values["mode"]  # legacy
    values["valid_from"] = date.fromisoformat(values["valid_from"])
    values["valid_to"] = date.fromisoformat(values["valid_to"])
    values["case_completed_at"] = datetime.fromisoformat(values["case_completed_at"])
    legacy_issue(
        actor=issuer_user,
        scan=scan.getvalue(),
        content_type="image/png",
        original_name="纸质证照.png",
        values=values,
    )
    # then: the registry answered each of them while no transaction of theirs was open
    assert depths == [outside] * 3
    assert len(registry.requests) == 3 and License.objects.count() == 3
