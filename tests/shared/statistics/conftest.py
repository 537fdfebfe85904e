"""Access records are committed through their own connection (tests.shared.access.conftest):
each statistics test starts from an empty log, as the access tests do."""

import pytest

from tests.shared.access.conftest import *  # noqa: F403
from tests.support import make_agency, make_user, token_client


@pytest.fixture
def supervisor(db):
    """A user of the provincial management unit (省发改委), which issues and uses nothing."""
    unit = make_agency("河南省发展和改革委员会", body="00009001", area="410000")
    return token_client(make_user("supervisor_1", unit, role="supervisor"))


@pytest.fixture
def issuer_admin(agency_admin):
    return token_client(agency_admin)


@pytest.fixture
def issued(issuer, issue_payload):
    """Issue licences through the API; returns their identifiers."""

    def build(count, prefix="JY"):
        idents = []
        for i in range(count):
            response = issuer.post(
                "/api/v1/licenses/", issue_payload(number=f"{prefix}{i:06d}"), format="json"
            )
            assert response.status_code == 201, response.json()
            idents.append(response.json()["identifier"])
        return idents

    return build


def act(client, identifier, action, **body):
    response = client.post(f"/api/v1/licenses/{identifier}/{action}/", body, format="json")
    assert response.status_code == 200, response.json()
    return response.json()["license"]["identifier"]
