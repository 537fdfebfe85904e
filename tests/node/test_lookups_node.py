"""At a city node the licence tables are plain: the lookups that name the hub's partitions
(shared.licenses.lookups) change nothing here, not even the number of queries."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from shared.files.verification import version_lookup
from shared.licenses import lookups, selectors
from shared.licenses.models import License
from shared.licenses.services import license_get_for_update

pytestmark = pytest.mark.django_db


@pytest.fixture
def licence(issuer, issue_payload):
    created = issuer.post("/api/v1/licenses/", issue_payload(), format="json")
    assert created.status_code == 201, created.json()
    return License.objects.get(identifier=created.json()["identifier"])


def test_a_node_registers_no_locator():
    assert lookups._locator is None
    assert lookups.licence_terms(pk=7) == {"pk": 7}
    assert lookups.version_terms("x", joined=True) == {"identifier": "x"}


@pytest.mark.parametrize(
    ("lookup", "queries"),
    [
        (lambda lic, user: version_lookup(lic.identifier).license, 1),
        (lambda lic, user: selectors.license_get(user=user, identifier=lic.identifier), 2),
        (lambda lic, user: license_get_for_update(identifier=lic.identifier), 2),
        (lambda lic, user: License.objects.get(**lookups.licence_terms(pk=lic.pk)), 1),
        (lambda lic, user: lic if list(selectors.license_versions(license=lic)) else None, 1),
    ],
)
def test_lookups_at_a_node_ask_what_they_always_asked(licence, issuer_user, lookup, queries):
    with CaptureQueriesContext(connection) as context:
        found = lookup(licence, issuer_user)
    assert found == licence
    assert len(context) == queries
    # neither a key table nor a partition column in any condition
    assert not any('_key"' in q["sql"] or '"library_code" = ' in q["sql"] for q in context)
