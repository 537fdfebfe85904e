"""Fixtures shared by the Django test runs (node and hub settings alike)."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tests.support import (
    make_agency,
    make_citizen_id,
    make_type,
    make_uscc,
    make_user,
    token_client,
)


@pytest.fixture(autouse=True)
def _envelope_sizes_from_the_settings():
    """The relay remembers each stream's envelope size in the process (shared.federation.
    sizing): every test starts again from the settings it sets."""
    from shared.federation import sizing

    sizing.forget()


@pytest.fixture
def issuer_agency(db):
    return make_agency("市场监督管理局", body="00001001", is_issuer=True)


@pytest.fixture
def other_issuer_agency(db):
    return make_agency("交通运输局", body="00001002", is_issuer=True)


@pytest.fixture
def consumer_agency(db):
    return make_agency("政务服务中心", body="00002001", is_consumer=True, kind="service_centre")


@pytest.fixture
def issuer_user(issuer_agency):
    return make_user("issuer_1", issuer_agency)


@pytest.fixture
def reviewer_user(issuer_agency):
    return make_user("issuer_2", issuer_agency)


@pytest.fixture
def agency_admin(issuer_agency):
    return make_user("issuer_admin", issuer_agency, role="agency_admin")


@pytest.fixture
def other_issuer_user(other_issuer_agency):
    return make_user("other_1", other_issuer_agency)


@pytest.fixture
def consumer_user(consumer_agency):
    return make_user("consumer_1", consumer_agency)


@pytest.fixture
def library_admin(db):
    return make_user("admin", None, role="library_admin")


@pytest.fixture
def license_type(issuer_user):
    return make_type(issuer_user, seq=1, requires_review=False)


@pytest.fixture
def review_type(issuer_user):
    return make_type(issuer_user, seq=2, requires_review=True)


@pytest.fixture
def anon():
    return APIClient()


@pytest.fixture
def issuer(issuer_user):
    return token_client(issuer_user)


@pytest.fixture
def reviewer(reviewer_user):
    return token_client(reviewer_user)


@pytest.fixture
def other_issuer(other_issuer_user):
    return token_client(other_issuer_user)


@pytest.fixture
def consumer(consumer_user):
    return token_client(consumer_user)


@pytest.fixture
def admin(library_admin):
    return token_client(library_admin)


@pytest.fixture
def issue_payload(license_type):
    def build(**overrides):
        today = timezone.localdate()
        body = {
            "type_code": license_type.type_code,
            "number": "JY14101000012345",
            "holder": {
                "name": "郑州豫中食品有限公司",
                "code": make_uscc(dept="91", area="410100", body="MA3X7Y8L"),
                "code_type": "001",
            },
            "valid_from": today.isoformat(),
            "valid_to": (today + timedelta(days=365)).isoformat(),
            "mode": "online",
            "case_completed_at": (timezone.now() - timedelta(minutes=1)).isoformat(),
            "matter_code": "M0001",
            "surface": {"经营者名称": "郑州豫中食品有限公司", "经营项目": "预包装食品销售"},
        }
        body.update(overrides)
        return body

    return build


@pytest.fixture
def person_id():
    return make_citizen_id(area="410102", birth="19850312", seq="123")
