"""Bulk analysis approved with fewer fields: the issuer grants a non-empty subset of the
requested fields (never more, never one the types do not allow: 400 with a stable code,
nothing changed), the export has exactly the approved columns in the request's order, and
the requester reads which fields were approved."""

import csv
from datetime import timedelta

import pytest
from django.utils import timezone

from shared.access.bulk import bulk_export_run, bulk_request_create, bulk_request_decide
from shared.access.models import AccessRecord, BulkRequest
from shared.core.errors import PermanentError
from tests.shared.access.conftest import MATTER, grant, issue

pytestmark = pytest.mark.django_db
REQUESTED = ["identifier", "number", "holder_name", "issue_date", "surface.经营项目"]


@pytest.fixture(autouse=True)
def export_dir(settings, tmp_path):
    settings.BULK_EXPORT_DIR = str(tmp_path / "exports")


@pytest.fixture
def pending(consumer_user, consumer_agency, license_type):
    grant(consumer_agency, license_type)
    today = timezone.localdate()
    return bulk_request_create(
        actor=consumer_user,
        type_codes=[license_type.type_code],
        fields=REQUESTED,
        period_from=today - timedelta(days=30),
        period_to=today,
        matter_code=MATTER,
        purpose="全市食品经营主体分布统计分析",
        row_cap=10,
    )


def unchanged(pk):
    row = BulkRequest.objects.get(pk=pk)
    return (row.state, row.approved_fields, row.decided_at, row.expires_at) == (
        "pending",
        [],
        None,
        None,
    )


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ([], "bulk.fields_empty"),
        (["identifier", "password"], "bulk.field_unknown"),  # no type has it
        (["identifier", "surface.从业人数"], "bulk.field_not_requested"),  # allowed, not asked
        (["identifier", "holder_code"], "bulk.field_not_requested"),
    ],
)
def test_an_approval_beyond_the_request_is_refused_and_changes_nothing(
    issuer_user, pending, fields, code
):
    with pytest.raises(PermanentError) as refused:
        bulk_request_decide(
            actor=issuer_user, bulk_request_id=pending.pk, approve=True, fields=fields
        )
    assert refused.value.code == code and refused.value.status_code == 400
    assert refused.value.detail["field"] == "fields"
    assert unchanged(pending.pk)
    assert not AccessRecord.objects.filter(operation="bulk_decision").exists()


def test_a_subset_is_approved_in_the_requests_order_and_exported_so(
    issuer_user, consumer_user, license_type, pending
):
    # given: three licences in the period
    for i in range(3):
        issue(issuer_user, license_type, number=f"JY{i}", holder_body=f"MA3X7Y{i}L")
    # when: the issuer grants two of the five fields, ticked in another order, one twice
    decided = bulk_request_decide(
        actor=issuer_user,
        bulk_request_id=pending.pk,
        approve=True,
        fields=["surface.经营项目", "number", "surface.经营项目"],
    )
    # then
    assert decided.approved_fields == ["number", "surface.经营项目"]
    assert decided.fields == REQUESTED  # what was asked stays on record
    record = AccessRecord.objects.get(operation="bulk_decision")
    assert record.detail["fields"] == ["number", "surface.经营项目"]
    done = bulk_export_run(bulk_request_id=str(pending.pk))
    assert done is not None and done.state == "ready"
    with open(done.file_path, encoding="utf-8-sig") as exported:
        rows = list(csv.reader(exported))
    assert rows[0] == ["number", "surface.经营项目"]
    assert sorted(r[0] for r in rows[1:]) == ["JY0", "JY1", "JY2"]
    assert {r[1] for r in rows[1:]} == {"预包装食品销售"}


def test_without_fields_every_requested_field_is_approved(issuer_user, pending):
    decided = bulk_request_decide(actor=issuer_user, bulk_request_id=pending.pk, approve=True)
    assert decided.approved_fields == REQUESTED


def test_the_api_refuses_a_bad_subset_and_the_requester_reads_the_approved_fields(
    issuer, consumer, pending
):
    url = f"/api/v1/bulk-requests/{pending.pk}/approve/"
    for fields, code in (
        ([], "bulk.fields_empty"),
        (["identifier", "valid_to"], "bulk.field_not_requested"),
        (["identifier", "surface.不存在"], "bulk.field_unknown"),
    ):
        response = issuer.post(url, {"fields": fields}, format="json")
        body = response.json()
        assert (response.status_code, body["code"]) == (400, code), body
        assert any("\u4e00" <= ch <= "\u9fff" for ch in body["message"])  # Chinese
        assert unchanged(pending.pk)
    not_a_list = issuer.post(url, {"fields": "identifier"}, format="json")
    assert not_a_list.status_code == 400 and unchanged(pending.pk)
    approved = issuer.post(url, {"fields": ["holder_name", "identifier"]}, format="json")
    assert approved.status_code == 200, approved.json()
    seen = consumer.get(f"/api/v1/bulk-requests/{pending.pk}/").json()
    assert (seen["fields"], seen["approved_fields"]) == (REQUESTED, ["identifier", "holder_name"])
