"""Fixtures of the hub's tests that several modules share (a module's own fixture of the same
name takes precedence)."""

import pytest

from tests.hub.test_hardening_federation import LY, City
from tests.support import make_agency, make_type, make_user


@pytest.fixture
def luoyang(db):
    """洛阳's exchange key, registered at the hub as that city's peer."""
    return City(LY)


@pytest.fixture
def ly_type(db):
    """A licence type of 洛阳's issuing agency, as the hub holds it."""
    agency = make_agency("洛阳市市场监督管理局", body="00003001", area=LY, is_issuer=True)
    return make_type(make_user("ly_issuer", agency), seq=7, requires_review=False)
