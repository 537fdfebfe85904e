"""Lookups by id or identifier alone name the partition at the hub (shared.licenses.lookups):
the key tables give the city and time first, so the planner keeps one leaf, and the answers
are the ones the plain lookups give (docs/scaling.md §3)."""

import re

import pytest
from django.db import connection

from provincial_hub.aggregation.locator import KeyTableLocator
from provincial_hub.aggregation.partitions import LICENCE, VERSION, leaf_partition
from shared.domain.identifiers import parse_identifier
from shared.files.verification import version_lookup
from shared.licenses import lookups, selectors
from shared.licenses.models import License, LicenseEvent, LicenseVersion
from shared.licenses.services import license_get_for_update

pytestmark = pytest.mark.django_db

LEAF = re.compile(r" on (licenses_license\w*?_(?:\d{6}|default)_(?:y\d{4}|default))\b")
RELATED = ("license__license_type", "license__issuer")


def _leaves(queryset):
    """The leaf partitions the plan keeps (plan-time pruning: no ANALYZE needed)."""
    return set(LEAF.findall(queryset.explain()))


def _all_leaves(table):
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_partition_tree(%s) WHERE isleaf", [table])
        return cursor.fetchone()[0]


@pytest.fixture
def amended(issuer, issue_payload):
    """A hub licence with two versions: (licence, first identifier, current identifier)."""
    created = issuer.post("/api/v1/licenses/", issue_payload(), format="json")
    assert created.status_code == 201, created.json()
    first = created.json()["identifier"]
    response = issuer.post(
        f"/api/v1/licenses/{first}/amend/",
        {"surface": {"经营者名称": "郑州豫中食品股份有限公司"}, "reason": "名称变更"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    lic = License.objects.get()
    assert lic.identifier != first
    return lic, first, lic.identifier


def test_the_hub_on_postgresql_registers_the_key_table_locator():
    assert isinstance(lookups._locator, KeyTableLocator)


def test_narrowed_lookups_plan_over_one_leaf(amended):
    lic, first, current = amended
    version = LicenseVersion.objects.get(identifier=first)
    licence_leaf, version_leaf = (
        leaf_partition(LICENCE, lic.pk),
        leaf_partition(VERSION, version.pk),
    )
    # given: without the city, the plan keeps every leaf (57 on a fresh hub)
    assert len(_leaves(License.objects.filter(pk=lic.pk))) == _all_leaves(LICENCE) >= 57
    # when / then: with the terms, one leaf per table
    narrowed = LicenseVersion.objects.select_related(*RELATED).filter(
        **lookups.version_terms(first, joined=True)
    )
    assert _leaves(narrowed) == {version_leaf, licence_leaf}
    by_version = License.objects.filter(**lookups.licence_terms_by_version(first))
    assert _leaves(by_version) == {licence_leaf}
    assert _leaves(License.objects.filter(**lookups.licence_terms(pk=lic.pk))) == {licence_leaf}
    assert _leaves(License.objects.filter(**lookups.licence_terms_of(lic))) == {licence_leaf}
    # a licence's history: its city's leaves only (the hub's own code is in DEFAULT), no
    # extra query
    city = licence_leaf.split("_")[2]
    history = _leaves(LicenseEvent.objects.filter(**lookups.history_terms(lic)))
    assert {leaf.split("_")[2] for leaf in history} == {city}
    assert 0 < len(history) < _all_leaves("licenses_licenseevent") // 10


def test_narrowed_lookups_find_what_the_plain_ones_find(amended):
    lic, first, current = amended
    for identifier in (first, current):
        plain = LicenseVersion.objects.select_related(*RELATED).get(identifier=identifier)
        found = version_lookup(identifier)
        assert (found.pk, found.license.pk, found.license.issuer.pk) == (
            plain.pk,
            lic.pk,
            lic.issuer_id,
        )
        assert License.objects.get(**lookups.licence_terms_by_version(identifier)) == lic
        assert license_get_for_update(identifier=identifier) == lic
    assert License.objects.get(**lookups.licence_terms(pk=lic.pk)) == lic
    assert list(LicenseVersion.objects.filter(**lookups.history_terms(lic))) == list(
        LicenseVersion.objects.filter(license=lic)
    )
    assert list(LicenseEvent.objects.filter(**lookups.history_terms(lic))) == list(
        LicenseEvent.objects.filter(license=lic)
    )


def test_what_the_key_tables_do_not_know_is_not_found(amended, issuer, django_assert_num_queries):
    lic, first, _ = amended
    unknown = str(parse_identifier(first).with_version(9))  # well formed, never issued
    # one key-table read, and no query of the partitioned tables at all
    with django_assert_num_queries(1):
        assert version_lookup(unknown) is None
    with django_assert_num_queries(1):
        assert License.objects.filter(**lookups.licence_terms(pk=lic.pk + 1000)).first() is None
    response = issuer.get(f"/api/v1/licenses/{unknown}/")
    assert response.status_code == 404
    assert response.json()["code"] == "license.not_found"
    assert License.objects.filter(pk=lic.pk).exists()  # nothing else changed


def test_the_detail_api_answers_by_any_version_identifier(amended, issuer):
    lic, first, current = amended
    for identifier in (first, current):
        response = issuer.get(f"/api/v1/licenses/{identifier}/")
        assert response.status_code == 200, response.json()
        assert response.json()["identifier"] == current
    versions = issuer.get(f"/api/v1/licenses/{first}/versions/").json()
    events = issuer.get(f"/api/v1/licenses/{first}/events/").json()
    rows = versions["results"] if isinstance(versions, dict) else versions
    assert [v["version"] for v in rows] == [1, 2]
    assert len(events["results"] if isinstance(events, dict) else events) == 2


def test_license_get_reads_the_key_tables_then_one_licence(
    amended, issuer_user, django_assert_num_queries
):
    lic, first, _ = amended
    with django_assert_num_queries(2):
        assert selectors.license_get(user=issuer_user, identifier=first) == lic
