"""The bucket digests kept by the statement-level triggers (shared.federation.digest_sql) are
exactly what a rebuild from the licence rows computes, after multi-row inserts, updates that
change a digest and updates that change none, releases and deletes."""

from datetime import UTC, date, datetime

import pytest
from django.db import connection

from shared.federation.digests import rebuild_buckets
from shared.licenses.models import License
from tests.support import make_agency, make_type, make_uscc, make_user

pytestmark = pytest.mark.django_db


def _digests():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT scope, level, key, parent, count, xor FROM federation_bucket "
            "WHERE count <> 0 ORDER BY scope, level, key"
        )
        buckets = cursor.fetchall()
        cursor.execute(
            "SELECT license_id, scope, slice_key, base, digest FROM federation_leaf ORDER BY 1"
        )
        return buckets, cursor.fetchall()


def _as_rebuilt():
    rebuild_buckets()
    return _digests()


@pytest.fixture
def licences(db):
    agency = make_agency("郑州市市场监督管理局", body="00002001", is_issuer=True)
    license_type = make_type(make_user("zz_issuer", agency), seq=3, requires_review=False)
    rows = []
    for i in range(12):
        lic = License(
            license_type=license_type, issuer=agency, serial=f"2026{i:07d}",
            identifier=f"1.2.156.3005.2.{license_type.type_code}.{agency.code}.2026{i:07d}.001.X",
            number=f"JY{i:06d}", holder_name=f"持证人{i}", holder_code_type="001",
            issue_date=date(2026, 1, 9), valid_from=date(2026, 1, 10), version=1,
            status="pending" if i >= 10 else "valid", area_code="410100", mode="online",
            # three months: three level-0 buckets
            case_completed_at=datetime(2026, 1 + i % 3, 9, 2, 3, tzinfo=UTC),
            content_digest=f"{i:02d}" * 32, library_code="410100", last_event_seq=1,
            matter_code="M0001", surface={},
        )  # fmt: skip
        lic.holder_code = make_uscc(dept="91", area="410100", body=f"DG{i:06d}")
        rows.append(lic)
    License.objects.bulk_create(rows)  # one INSERT: one call of the insert trigger
    return License.objects.order_by("pk")


def test_the_triggers_fire_once_per_statement():  # the suite runs on PostgreSQL (README)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgname, tgtype & 1 = 1 FROM pg_trigger WHERE tgname LIKE 'federation_%%' "
            "AND tgrelid = 'licenses_license'::regclass ORDER BY 1"
        )
        assert cursor.fetchall() == [
            ("federation_digest_add", False),
            ("federation_digest_change", False),
            ("federation_digest_remove", False),
        ]


def test_every_kind_of_change_leaves_the_digests_a_rebuild_computes(licences):
    inserted = _digests()
    assert len(inserted[1]) == 10  # the two pending licences are not compared
    assert {b[4] for b in inserted[0] if b[1] == 0} == {4, 3}
    assert inserted == _as_rebuilt()

    ids = list(licences.values_list("pk", flat=True))
    # one statement changing several digests, moving one licence to another month
    License.objects.filter(pk__in=ids[:4]).update(status="suspended", last_event_seq=2)
    License.objects.filter(pk=ids[4]).update(case_completed_at=datetime(2026, 5, 1, tzinfo=UTC))
    changed = _digests()
    assert changed != inserted and changed == _as_rebuilt()

    # nothing a digest is made of: the digests stay as they were
    License.objects.filter(pk__in=ids).update(holder_name="改名")
    assert _digests() == changed

    # a release counts the licence in; a delete takes it out
    License.objects.filter(pk=ids[10]).update(status="valid")
    License.objects.filter(pk__in=ids[:2]).delete()
    after = _digests()
    assert len(after[1]) == 9
    assert after == _as_rebuilt()
