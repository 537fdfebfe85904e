"""Fixtures for compliance at the hub: the supervisor, a city's agency as the hub holds it, a
provincial agency, 郑州's node registered as a peer, and the access fixtures (a clean log per
test: the supervisor's refusals are access records)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from shared.accounts.models import Agency
from shared.federation.keys import export_public, peer_register
from shared.federation.models import Arrival
from tests.shared.access.conftest import *  # noqa: F403
from tests.support import make_agency, make_user, token_client

ZZ = "410100"
LY = "410300"


@pytest.fixture
def supervisor_user(db):
    return make_user("supervisor", None, role="supervisor")


@pytest.fixture
def supervisor(supervisor_user):
    return token_client(supervisor_user)


@pytest.fixture
def zz_agency(db):
    """郑州's market regulator, as the hub holds it (it arrived with 郑州's licences)."""
    return make_agency("郑州市市场监督管理局", body="01000001", area=ZZ, is_issuer=True)


@pytest.fixture
def ly_agency(db):
    return make_agency("洛阳市市场监督管理局", body="03000001", area=LY, is_issuer=True)


@pytest.fixture
def provincial_agency(db):
    return make_agency(
        "河南省交通运输厅", body="00009001", area="410000", level="province", is_issuer=True
    )


@pytest.fixture
def provincial_staff(provincial_agency):
    return make_user("prov_staff", provincial_agency)


@pytest.fixture
def zz_peer(db):
    key = export_public()
    return peer_register(code=ZZ, kid=key["kid"], public_key_pem=key["public_key_pem"])


def arrivals(*, library: str, issuer: Agency, late: int, on_time: int, days_ago: int = 1) -> None:
    """Timeliness rows as the ingest writes them (shared.federation.arrivals)."""
    now = timezone.now() - timedelta(days=days_ago)
    rows = [
        Arrival(
            key=f"{issuer.code}.{library}.{i}.{days_ago}",
            library_code=library,
            issuer_code=issuer.code,
            mode="online",
            case_completed_at=now - timedelta(hours=1),
            committed_at=now - timedelta(hours=1),
            arrived_at=now,
            lag_seconds=3600.0 if i < late else 1.0,
            deadline_at=now - timedelta(minutes=59) if i < late else now + timedelta(minutes=1),
            late=i < late,
        )
        for i in range(late + on_time)
    ]
    Arrival.objects.bulk_create(rows)
