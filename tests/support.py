"""Builders for tests: real services, real tokens (no mocks).

Plain functions, not factory_boy factories: a builder must go through the service (audit row,
outbox row, signals), which a model factory would bypass or merely wrap."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import transaction
from rest_framework.test import APIClient

from shared.accounts import services as accounts
from shared.accounts.models import Agency, User
from shared.catalog import services as catalog
from shared.catalog.models import LicenseType
from shared.demo.data import make_citizen_id, make_uscc
from shared.federation.outbox import license_key, license_payload
from shared.licenses.models import License

__all__ = [
    "issued_events",
    "make_agency",
    "make_citizen_id",
    "make_type",
    "make_user",
    "make_uscc",
    "token_client",
    "undone",
]

SURFACE_SCHEMA = {
    "type": "object",
    "properties": {
        "经营者名称": {"type": "string", "minLength": 1, "maxLength": 100},
        "经营项目": {"type": "string", "maxLength": 500},
        "从业人数": {"type": "integer", "minimum": 0},
    },
    "required": ["经营者名称"],
    "additionalProperties": False,
}
DEFINER = make_uscc(dept="11", area="100000", body="00000013")


def make_agency(name: str, *, body: str, area: str = "410100", **flags) -> Agency:
    return accounts.agency_create(
        actor=None,
        code=make_uscc(dept="11", area=area, body=body),
        name=name,
        area_code=area,
        **flags,
    )


def make_user(username: str, agency: Agency | None, role: str = "staff") -> User:
    return accounts.user_create(
        actor=None, agency=agency, username=username, password="Secret-12345", role=role
    )


def make_type(actor: User, *, seq: int, requires_review: bool, publish: bool = True, **extra):
    fields = {
        "name": "食品经营许可证" if not requires_review else "道路运输经营许可证",
        "definer_name": "国家市场监督管理总局",
        "definer_level": "national",
        "issuer_level": "city",
        "holder_category": "legal",
        "validity_max_days": 1827,
        "related_matters": [{"code": "M0001", "name": "食品经营许可"}],
        "surface_schema": SURFACE_SCHEMA,
        "requires_review": requires_review,
    }
    fields.update(extra)
    license_type = catalog.license_type_create(
        actor=actor, type_code=f"{DEFINER}{seq:03d}", **fields
    )
    if publish:
        license_type = catalog.license_type_publish(actor=actor, license_type=license_type)
    return license_type


def token_client(user: User) -> APIClient:
    _, secret = accounts.token_issue(actor=None, user=user, name="test")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def type_count() -> int:
    return LicenseType.objects.count()


class _Undone(Exception):
    """Ends the transaction of `undone()`."""


@contextmanager
def undone() -> Iterator[None]:
    """Run the block in a transaction rolled back at its end: what it wrote is captured inside
    the block (outbox rows, payloads), then gone, as a receiver lacks a sender's new licences."""
    try:
        with transaction.atomic():
            yield
            raise _Undone
    except _Undone:
        pass


def issued_events(
    client: APIClient, bodies: list[dict[str, Any]], *, library_code: str = ""
) -> list[dict[str, Any]]:
    """The `license.event` items a sender writes for issuing each of `bodies` through `client`
    (POST /api/v1/licenses/), the licences then undone here. `library_code` relabels the
    payloads as another library's (a city's issue, built at the hub that must receive it)."""
    captured = []
    with undone():
        for body in bodies:
            response = client.post("/api/v1/licenses/", body, format="json")
            assert response.status_code == 201, response.content
            lic = License.objects.get(identifier=response.json()["identifier"])
            payload = license_payload(lic, lic.events.get(seq=1), new_version=True)
            if library_code:
                payload["license"]["library_code"] = library_code
            captured.append({"kind": "license.event", "key": license_key(lic), "payload": payload})
    return captured
