"""The authorisation matrix at the hub: the same endpoints, roles and expectations as at a city
library (tests/shared/access/test_access_matrix.py), run under the hub's settings, where the library
administrator is the hub operator and a token issued by a city library is the stranger's."""

import pytest

from tests.shared.access.test_access_matrix import (  # noqa: F401 - fixtures and tests run here too
    files_world,
    test_an_unknown_or_expired_holder_link_is_a_recorded_refusal,
    test_authorisation_matrix,
    test_none_and_not_allowed_look_the_same_to_a_consumer,
    world,
)
from tests.support import make_agency

pytestmark = pytest.mark.django_db


@pytest.fixture
def issuer_agency(db):
    """The hub's own issuer is provincial: a city's issuer decides bulk requests at its node
    (docs/federation.md, "Bulk analysis across tiers"), so the matrix's issuer is the hub's."""
    return make_agency(
        "河南省市场监督管理局", body="00001001", area="410000", level="province", is_issuer=True
    )
