"""Lookups by id or identifier alone name the partition at the hub (shared.licenses.lookups):
the key tables give the city and time first, so the planner keeps one leaf, and the answers
are the ones the plain lookups give (docs/scaling.md §3)."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from provincial_hub.aggregation.locator import KeyTableLocator
from provincial_hub.aggregation.partitions import LICENCE, VERSION, holder_keys, leaf_partition
from shared.core.holder_codes import holder_code_digests
from shared.domain.identifiers import parse_identifier
from shared.files.verification import version_lookup
from shared.inspections.models import Inspection
from shared.licenses import lookups, selectors
from shared.licenses.models import License, LicenseEvent, LicenseVersion
from shared.licenses.services import license_get_for_update
from tests.support import make_uscc

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


# --- a holder's licences ------------------------------------------------------------------


def _digests(lic):
    return holder_code_digests(lic.holder_code)


def test_a_holders_licences_plan_over_their_own_leaves(amended, issuer, issue_payload):
    lic, _, _ = amended
    other = issuer.post(
        "/api/v1/licenses/",
        issue_payload(
            number="JY14101000099999",
            holder={
                "name": "另一家公司",
                "code": make_uscc(dept="91", area="410100", body="MA4X7Y81"),
                "code_type": "001",
            },
        ),
        format="json",
    )
    assert other.status_code == 201, other.json()
    plain = License.objects.filter(holder_code_digest__in=_digests(lic))
    narrowed = License.objects.filter(**lookups.holder_terms(_digests(lic)))
    # the digest alone plans over every leaf; with the key table's cities and span, one
    assert len(_leaves(plain)) == _all_leaves(LICENCE)
    assert _leaves(narrowed) == {leaf_partition(LICENCE, lic.pk)}
    assert list(narrowed) == list(plain) == [lic]
    # the list API's holder filter goes the same way
    with CaptureQueriesContext(connection) as queries:
        listed = issuer.get("/api/v1/licenses/", {"holder_code": lic.holder_code})
    assert [r["identifier"] for r in listed.json()["results"]] == [lic.identifier]
    [read] = [
        q["sql"] for q in queries if 'FROM "licenses_license"' in q["sql"] and "LIMIT" in q["sql"]
    ]
    assert '"licenses_license"."library_code" IN' in read and "BETWEEN" in read


def test_a_holder_the_key_table_does_not_know_has_no_licence(amended, django_assert_num_queries):
    unknown = holder_code_digests(make_uscc(dept="91", area="410100", body="MA5X7Y82"))
    with django_assert_num_queries(1):  # the key table only
        assert list(License.objects.filter(**lookups.holder_terms(unknown))) == []
    with django_assert_num_queries(1):
        terms = lookups.holder_terms(unknown, prefix="license__")
        assert list(Inspection.objects.filter(**terms)) == []


def test_the_key_table_follows_a_holder_digest_rewritten(amended):
    """A digest key rotation rewrites every licence's digest: the key rows follow (trigger)."""
    lic, _, _ = amended
    License.objects.filter(pk=lic.pk).update(holder_code_digest="x" * 64)
    assert list(License.objects.filter(**lookups.holder_terms(["x" * 64]))) == [lic]
    assert list(License.objects.filter(**lookups.holder_terms(_digests(lic)))) == []


def test_migration_0006_fills_the_holder_digests_of_a_key_table_made_before_it(amended):
    lic, _, _ = amended
    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX license_key_holder_idx")
        cursor.execute("ALTER TABLE licenses_license_key DROP COLUMN holder_code_digest")
    with connection.schema_editor() as editor:
        holder_keys(editor)
        holder_keys(editor)  # twice: safe
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT holder_code_digest FROM licenses_license_key WHERE id = %s", [lic.pk]
        )
        assert cursor.fetchone()[0] == lic.holder_code_digest
        cursor.execute("SELECT to_regclass('license_key_holder_idx')")
        assert cursor.fetchone()[0] == "license_key_holder_idx"
    assert list(License.objects.filter(**lookups.holder_terms(_digests(lic)))) == [lic]
