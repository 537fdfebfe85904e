"""Builders for tests: real services, real tokens (no mocks).

Plain functions, not factory_boy factories: a builder must go through the service (audit row,
outbox row, signals), which a model factory would bypass or merely wrap."""

from rest_framework.test import APIClient

from shared.accounts import services as accounts
from shared.accounts.models import Agency, User
from shared.catalog import services as catalog
from shared.catalog.models import LicenseType
from shared.demo.data import make_citizen_id, make_uscc

__all__ = ["make_agency", "make_citizen_id", "make_type", "make_user", "make_uscc", "token_client"]

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
