"""The licence catalogue: register, publish, retire; only the owner edits; drafts stay private."""

import pytest

from shared.catalog.models import LicenseType
from tests.support import DEFINER, SURFACE_SCHEMA

pytestmark = pytest.mark.django_db


def body(**overrides):
    data = {
        "type_code": f"{DEFINER}101",
        "name": "食品经营许可证",
        "definer_name": "国家市场监督管理总局",
        "definer_level": "national",
        "issuer_level": "city",
        "holder_category": "legal",
        "validity_max_days": 1827,
        "related_matters": [{"code": "M0001", "name": "食品经营许可"}],
        "surface_schema": SURFACE_SCHEMA,
        "requires_review": False,
    }
    data.update(overrides)
    return data


def test_register_publish_retire(issuer):
    created = issuer.post("/api/v1/catalog/types/", body(), format="json")
    assert created.status_code == 201, created.json()
    code = created.json()["type_code"]
    assert created.json()["state"] == "draft"
    published = issuer.post(f"/api/v1/catalog/types/{code}/publish/")
    assert published.status_code == 200
    assert published.json()["state"] == "published"
    read = issuer.get(f"/api/v1/catalog/types/{code}/").json()
    assert {
        k: read[k] for k in ("type_code", "name", "state", "holder_category", "requires_review")
    } == {
        "type_code": code,
        "name": "食品经营许可证",
        "state": "published",
        "holder_category": "legal",
        "requires_review": False,
    }
    assert read["surface_schema"] == SURFACE_SCHEMA
    retired = issuer.post(f"/api/v1/catalog/types/{code}/retire/")
    assert retired.json()["state"] == "retired"
    again = issuer.post(f"/api/v1/catalog/types/{code}/publish/")
    assert again.status_code == 409
    assert again.json()["code"] == "catalog.illegal_state"


@pytest.mark.parametrize(
    "overrides,code",
    [
        ({"type_code": "11100000000013338W01"}, "validation_error"),
        ({"type_code": "11100000000013338WABC"}, "type_code.format"),
        ({"surface_schema": {"type": "array"}}, "catalog.surface_schema"),
        (
            {"surface_schema": {"type": "object", "properties": {"a": {"type": "nope"}}}},
            "catalog.surface_schema",
        ),
        ({"validity_min_days": 900, "validity_max_days": 30}, "catalog.validity_range"),
        ({"holder_category": "robot"}, "validation_error"),
    ],
)
def test_bad_catalogue_entries_are_refused(issuer, overrides, code):
    response = issuer.post("/api/v1/catalog/types/", body(**overrides), format="json")
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert response.json()["message"]
    assert LicenseType.objects.count() == 0


def test_duplicate_type_code_is_409(issuer):
    assert issuer.post("/api/v1/catalog/types/", body(), format="json").status_code == 201
    response = issuer.post("/api/v1/catalog/types/", body(), format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "catalog.type_exists"
    assert LicenseType.objects.count() == 1


def test_consumer_cannot_register(consumer):
    response = consumer.post("/api/v1/catalog/types/", body(), format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "catalog.not_issuer"
    assert LicenseType.objects.count() == 0


def test_drafts_are_visible_only_to_their_owner(issuer, other_issuer, consumer):
    code = issuer.post("/api/v1/catalog/types/", body(), format="json").json()["type_code"]
    assert other_issuer.get(f"/api/v1/catalog/types/{code}/").status_code == 404
    assert consumer.get("/api/v1/catalog/types/").json()["count"] == 0
    issuer.post(f"/api/v1/catalog/types/{code}/publish/")
    assert consumer.get(f"/api/v1/catalog/types/{code}/").status_code == 200


def test_only_the_owner_edits_or_publishes(issuer, other_issuer):
    code = issuer.post("/api/v1/catalog/types/", body(), format="json").json()["type_code"]
    issuer.post(f"/api/v1/catalog/types/{code}/publish/")
    response = other_issuer.patch(f"/api/v1/catalog/types/{code}/", {"name": "改名"}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "catalog.not_owner"
    assert LicenseType.objects.get().name == "食品经营许可证"


def test_published_type_is_frozen_except_display_fields(issuer):
    code = issuer.post("/api/v1/catalog/types/", body(), format="json").json()["type_code"]
    issuer.post(f"/api/v1/catalog/types/{code}/publish/")
    frozen = issuer.patch(
        f"/api/v1/catalog/types/{code}/", {"surface_schema": {"type": "object"}}, format="json"
    )
    assert frozen.status_code == 409
    assert frozen.json()["code"] == "catalog.type_frozen"
    assert LicenseType.objects.get().surface_schema == SURFACE_SCHEMA
    ok = issuer.patch(f"/api/v1/catalog/types/{code}/", {"qr_validity_days": 7}, format="json")
    assert ok.status_code == 200
    assert ok.json()["qr_validity_days"] == 7
