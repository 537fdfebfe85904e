"""What both issuance benchmarks issue under: 郑州's market regulator, its API user and token,
and a published food-business licence type (call after `django.setup()`)."""

from typing import Any


def seed() -> tuple[Any, Any, str, Any]:
    """(agency, user, bearer token secret, licence type), with the PKI initialised."""
    from bench.catalog import food_licence_type
    from shared.accounts import services as accounts
    from shared.demo.data import make_uscc
    from shared.files import keystore
    from tests.support import SURFACE_SCHEMA

    keystore.pki_init()
    agency = accounts.agency_create(
        actor=None,
        code=make_uscc(dept="11", area="410100", body="00009001"),
        name="郑州市市场监督管理局",
        area_code="410100",
        is_issuer=True,
    )
    user = accounts.user_create(actor=None, agency=agency, username="bench", password="Bench-12345")
    _, secret = accounts.token_issue(actor=None, user=user, name="bench")
    license_type = food_licence_type(actor=user, surface_schema=SURFACE_SCHEMA)
    return agency, user, secret, license_type


def issue_body(license_type: Any, i: int) -> dict[str, Any]:
    """The API body of licence number `i` of the run: a food-business licence to a company of
    郑州, valid a year from today, completed a minute ago."""
    from datetime import timedelta

    from django.utils import timezone

    from shared.demo.data import make_uscc

    today = timezone.localdate()
    return {
        "type_code": license_type.type_code,
        "number": f"JY141010{i:08d}",
        "holder": {
            "name": f"郑州豫中食品有限公司{i}",
            "code": make_uscc(dept="91", area="410100", body=f"MB{i:06d}"),
            "code_type": "001",
        },
        "valid_from": today.isoformat(),
        "valid_to": (today + timedelta(days=365)).isoformat(),
        "mode": "online",
        "case_completed_at": (timezone.now() - timedelta(minutes=1)).isoformat(),
        "matter_code": "M0001",
        "surface": {
            "经营者名称": f"郑州豫中食品有限公司{i}",
            "经营项目": "预包装食品销售、散装食品销售",
        },
    }
