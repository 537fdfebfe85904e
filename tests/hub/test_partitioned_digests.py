"""The digest triggers on the hub's partitioned licence table: the same changes as at a node
(tests/shared/federation/test_digest_triggers.py), and a row an UPDATE moves to another city's
partition, which fires only the UPDATE statement trigger."""

import pytest

from shared.licenses.models import License
from tests.shared.federation.test_digest_triggers import (  # noqa: F401 (the fixture, the test)
    _as_rebuilt,
    _digests,
    licences,
    test_every_kind_of_change_leaves_the_digests_a_rebuild_computes,
    test_the_triggers_fire_once_per_statement,
)

pytestmark = pytest.mark.django_db


def test_a_row_moved_to_another_city_is_counted_out_and_in(licences):  # noqa: F811
    moved = licences.first()
    License.objects.filter(pk=moved.pk).update(library_code="410300")
    buckets, leaves = _digests()
    assert {scope for scope, *_ in buckets} == {"410100", "410300"}
    assert [leaf for leaf in leaves if leaf[0] == moved.pk][0][1] == "410300"
    assert (buckets, leaves) == _as_rebuilt()
