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

pytestmark = pytest.mark.django_db
