"""批量分析审批 with fewer fields: the approval form's checkboxes come ticked with the requested
fields (Chinese names), unticking some approves fewer, unticking all is refused with the
service's message and changes nothing; the requester's list shows which were approved."""

from datetime import timedelta

import pytest
from django.utils import timezone

from shared.access.bulk import bulk_request_create
from shared.access.models import BulkRequest
from tests.shared.access.conftest import MATTER, grant

pytestmark = pytest.mark.django_db
REQUESTED = ["number", "holder_name", "surface.经营项目"]


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
        purpose="食品经营许可年度统计分析",
        row_cap=100,
    )


def test_the_form_comes_ticked_and_approves_fewer_fields(issuer_console, consumer_console, pending):
    # given: the form shows one checkbox per requested field, ticked, named in Chinese
    html = issuer_console.get("/console/bulk-requests/").content.decode()
    for name in REQUESTED:
        assert f'name="fields" value="{name}" checked' in html
    assert html.count('data-testid="bulk-field"') == 3
    assert "证照编号" in html and "持证主体名称" in html and "经营项目（照面）" in html
    url = f"/console/bulk-requests/{pending.pk}/approve/"
    # when: every box unticked: refused, nothing changed
    empty = issuer_console.post(url, {"fields_shown": "1"}, follow=True)
    assert "批准时至少保留一个字段" in empty.content.decode()
    assert BulkRequest.objects.get(pk=pending.pk).state == "pending"
    # a field that was not requested (a forged form): refused, nothing changed
    forged = issuer_console.post(
        url, {"fields_shown": "1", "fields": ["number", "holder_code"]}, follow=True
    )
    assert "只能批准申请中的字段" in forged.content.decode()
    assert BulkRequest.objects.get(pk=pending.pk).approved_fields == []
    # two of three ticked
    done = issuer_console.post(url, {"fields_shown": "1", "fields": ["surface.经营项目", "number"]})
    # then
    assert done.status_code == 302
    row = BulkRequest.objects.get(pk=pending.pk)
    assert (row.state, row.approved_fields) == ("approved", ["number", "surface.经营项目"])
    decided = issuer_console.get("/console/bulk-requests/").content.decode()
    assert "经营项目（照面）" in decided and 'data-testid="bulk-field"' not in decided
    mine = consumer_console.get("/console/use/bulk-requests/").content.decode()
    cell = mine[mine.index('data-testid="bulk-fields"') :]
    cell = cell[: cell.index("</td>")]
    assert "<s>持证主体名称</s>（未批准）" in cell and "<div>证照编号</div>" in cell
