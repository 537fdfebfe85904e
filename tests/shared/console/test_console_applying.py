"""The application agency's copies (加注件) and bulk-analysis requests in the console: the
same services as the API, every use and refusal an access record, own agency only."""

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from shared.access import bulk
from shared.access.models import AccessRecord, BulkRequest
from shared.files.models import AnnotatedCopy
from tests.console_support import console_client
from tests.shared.access.conftest import MATTER, grant, issue

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def files_root(settings, tmp_path):
    from shared.files import keystore

    settings.FILES_ROOT = str(tmp_path / "files")
    settings.FILES_TSA_URL = ""
    settings.BULK_EXPORT_DIR = str(tmp_path / "exports")
    keystore.reset_caches()
    yield
    keystore.reset_caches()


@pytest.fixture
def granted(consumer_agency, license_type):
    return grant(consumer_agency, license_type)


@pytest.fixture
def lic(issuer_user, license_type):
    return issue(issuer_user, license_type)


PURPOSE = {"matter_code": MATTER, "use_cause": "办理食品经营许可延续"}


def test_a_copy_is_made_listed_and_downloaded(consumer_console, granted, lic, pki):
    response = consumer_console.post(
        "/console/use/copies/", {**PURPOSE, "identifier": lic.identifier, "days": "3"}
    )
    assert response.status_code == 302, response.content.decode()[:500]
    copy = AnnotatedCopy.objects.get()
    assert copy.use_cause == PURPOSE["use_cause"]
    assert copy.expires_at - timezone.now() > timedelta(days=2)
    page = consumer_console.get("/console/use/copies/").content.decode()
    assert f"/console/use/copies/{copy.pk}/pdf/" in page
    pdf = consumer_console.get(f"/console/use/copies/{copy.pk}/pdf/")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    operations = set(AccessRecord.objects.values_list("operation", "outcome"))
    assert {("copy", "allowed"), ("download", "allowed")} <= operations


def test_a_copy_needs_a_purpose_and_a_grant(consumer_console, lic, pki):
    response = consumer_console.post(
        "/console/use/copies/", {**PURPOSE, "identifier": lic.identifier}
    )
    assert response.status_code in (403, 404)  # no grant: refused, as over the API
    response = consumer_console.post(
        "/console/use/copies/", {"identifier": lic.identifier, "matter_code": MATTER}
    )
    assert response.status_code in (400, 403)
    assert AnnotatedCopy.objects.count() == 0
    assert AccessRecord.objects.filter(operation="copy", outcome="refused").count() == 2


def test_an_expired_copy_is_refused_with_its_reason(consumer_console, granted, lic, pki):
    consumer_console.post("/console/use/copies/", {**PURPOSE, "identifier": lic.identifier})
    copy = AnnotatedCopy.objects.get()
    AnnotatedCopy.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = consumer_console.get(f"/console/use/copies/{copy.pk}/pdf/", follow=True)
    assert "加注件已过下载期限" in response.content.decode()


def application(license_type, **overrides):
    today = timezone.localdate()
    form = {
        "type_codes": [license_type.type_code],
        "fields": ["identifier", "holder_name", "surface.经营项目"],
        "period_from": (today - timedelta(days=30)).isoformat(),
        "period_to": today.isoformat(),
        "matter_code": MATTER,
        "purpose": "全市食品经营主体分布统计分析",
        "row_cap": "3",
    }
    form.update(overrides)
    return form


def test_a_bulk_request_is_made_approved_exported_and_downloaded(
    consumer_console, granted, lic, issuer_user, license_type
):
    page = consumer_console.get("/console/use/bulk-requests/").content.decode()
    assert 'value="surface.经营项目"' in page and license_type.type_code in page
    response = consumer_console.post("/console/use/bulk-requests/", application(license_type))
    assert response.status_code == 302
    found = BulkRequest.objects.get()
    assert (found.state, found.row_cap) == ("pending", 3)
    early = consumer_console.get(f"/console/use/bulk-requests/{found.pk}/download/", follow=True)
    assert "导出尚未完成或申请未获批准" in early.content.decode()
    bulk.bulk_request_decide(actor=issuer_user, bulk_request_id=found.pk, approve=True)
    bulk.bulk_export_run(bulk_request_id=str(found.pk))
    page = consumer_console.get("/console/use/bulk-requests/").content.decode()
    assert "可下载" in page
    download = consumer_console.get(f"/console/use/bulk-requests/{found.pk}/download/")
    assert download.status_code == 200
    body = b"".join(download.streaming_content)  # streamed from disk
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0] == ["identifier", "holder_name", "surface.经营项目"]
    assert rows[1][0] == lic.identifier


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"purpose": ""}, 'id="f-purpose-error"'),
        ({"row_cap": "0"}, 'id="f-row_cap-error"'),
        ({"fields": ["surface.不存在"]}, "申请的字段不存在"),
        ({"period_to": "2000-01-01"}, "期间截止日期不能早于起始日期"),
    ],
)
def test_a_bad_bulk_request_is_refused_in_chinese(
    consumer_console, granted, license_type, overrides, message
):
    response = consumer_console.post(
        "/console/use/bulk-requests/", application(license_type, **overrides)
    )
    assert response.status_code in (400, 404)
    text = response.content.decode()
    assert message in text
    assert BulkRequest.objects.count() == 0


def test_only_consumers_and_only_their_own(
    issuer_console, consumer_console, granted, license_type, other_issuer_user
):
    assert issuer_console.get("/console/use/copies/").status_code == 403
    assert issuer_console.get("/console/use/bulk-requests/").status_code == 403
    consumer_console.post("/console/use/bulk-requests/", application(license_type))
    found = BulkRequest.objects.get()
    from tests.support import make_agency, make_user

    other_agency = make_agency("另一应用单位", body="00002077", is_consumer=True)
    other = make_user("consumer_2", other_agency)
    response = console_client(other).get(f"/console/use/bulk-requests/{found.pk}/download/")
    assert response.status_code == 404
    assert console_client(other).get("/console/use/copies/not-a-uuid/pdf/").status_code == 404
