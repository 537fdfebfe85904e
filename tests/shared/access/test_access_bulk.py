"""Bulk analysis (art. 21): apply, the issuer decides, a real Celery worker writes a
time-limited export of the approved fields only; every step is an access record."""

import csv
import io
import json
import time
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.utils import timezone

from municipal_node.celery import app
from shared.access.models import AccessRecord, BulkRequest
from shared.domain.canonical import sm3_hex
from tests.shared.access.conftest import issue

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def celery_worker():
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("default")
    with start_worker(app, perform_ping_check=False, pool="solo", queues=["default"]) as worker:
        yield worker


def application(license_type, **overrides):
    today = timezone.localdate()
    body = {
        "type_codes": [license_type.type_code],
        "fields": ["identifier", "holder_name", "issue_date", "surface.经营项目"],
        "period_from": (today - timedelta(days=30)).isoformat(),
        "period_to": today.isoformat(),
        "matter_code": "M0001",
        "purpose": "全市食品经营主体分布统计分析",
        "row_cap": 3,
    }
    body.update(overrides)
    return body


def wait_state(client, pk, states, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/api/v1/bulk-requests/{pk}/").json()
        if body["state"] in states:
            return body
        time.sleep(0.2)
    raise AssertionError(body)


def test_apply_approve_export_download(celery_worker, consumer, issuer, issuer_user, license_type):
    for i in range(5):
        issue(issuer_user, license_type, number=f"JY{i}", holder_body=f"MA3X7Y{i}L")
    created = consumer.post("/api/v1/bulk-requests/", application(license_type), format="json")
    assert created.status_code == 201, created.json()
    pk = created.json()["id"]
    assert created.json()["state"] == "pending"
    # not yet approved: nothing to download
    early = consumer.get(f"/api/v1/bulk-requests/{pk}/download/")
    assert (early.status_code, early.json()["code"]) == (409, "bulk.not_ready")
    # the consumer cannot approve its own request
    self_approve = consumer.post(f"/api/v1/bulk-requests/{pk}/approve/", {}, format="json")
    assert (self_approve.status_code, self_approve.json()["code"]) == (403, "bulk.not_issuer")
    # the issuer approves fewer fields
    approved = issuer.post(
        f"/api/v1/bulk-requests/{pk}/approve/",
        {"fields": ["identifier", "surface.经营项目"]},
        format="json",
    )
    assert approved.status_code == 200, approved.json()
    done = wait_state(consumer, pk, {"ready", "failed"})
    assert (done["state"], done["rows_total"], done["rows_done"], done["progress"]) == (
        "ready",
        3,
        3,
        1.0,
    )
    download = consumer.get(f"/api/v1/bulk-requests/{pk}/download/")
    assert download.status_code == 200
    assert download.streaming  # from disk, not read into the web process
    assert download["Content-Disposition"] == f'attachment; filename="bulk-{pk}.csv"'
    body = b"".join(download.streaming_content)
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0] == ["identifier", "surface.经营项目"]
    assert len(rows) == 4
    operations = list(AccessRecord.objects.order_by("id").values_list("operation", "outcome"))
    assert ("bulk_request", "allowed") in operations
    assert ("bulk_decision", "allowed") in operations
    assert operations.count(("export", "allowed")) == 3  # one per exported licence
    assert ("download", "allowed") in operations
    logged = AccessRecord.objects.get(operation="download", outcome="allowed")
    assert logged.detail["sm3"] == sm3_hex(body)  # the digest of what was sent
    assert BulkRequest.objects.get(pk=pk).file_digest == sm3_hex(body)
    # another agency cannot even see it
    assert issuer.get(f"/api/v1/bulk-requests/{pk}/download/").status_code == 404


def test_refusal_needs_a_reason_and_jsonl_export(
    celery_worker, consumer, issuer, issuer_user, license_type
):
    issue(issuer_user, license_type)
    pk = consumer.post("/api/v1/bulk-requests/", application(license_type), format="json").json()[
        "id"
    ]
    no_reason = issuer.post(f"/api/v1/bulk-requests/{pk}/refuse/", {}, format="json")
    assert (no_reason.status_code, no_reason.json()["code"]) == (400, "bulk.reason_required")
    refused = issuer.post(
        f"/api/v1/bulk-requests/{pk}/refuse/", {"reason": "用途不明确"}, format="json"
    )
    assert refused.json()["state"] == "refused"
    again = issuer.post(f"/api/v1/bulk-requests/{pk}/approve/", {}, format="json")
    assert (again.status_code, again.json()["code"]) == (409, "bulk.state")
    second = consumer.post(
        "/api/v1/bulk-requests/", application(license_type, format="jsonl"), format="json"
    ).json()["id"]
    issuer.post(f"/api/v1/bulk-requests/{second}/approve/", {}, format="json")
    wait_state(consumer, second, {"ready"})
    jsonl = consumer.get(f"/api/v1/bulk-requests/{second}/download/")
    lines = b"".join(jsonl.streaming_content).decode().splitlines()
    assert json.loads(lines[0])["holder_name"] == "郑州豫中食品有限公司"


def test_expired_export_is_refused(consumer, issuer, issuer_user, license_type):
    pk = consumer.post("/api/v1/bulk-requests/", application(license_type), format="json").json()[
        "id"
    ]
    BulkRequest.objects.filter(pk=pk).update(
        state="ready", expires_at=timezone.now() - timedelta(minutes=1)
    )
    response = consumer.get(f"/api/v1/bulk-requests/{pk}/download/")
    assert (response.status_code, response.json()["code"]) == (409, "bulk.expired")
    assert AccessRecord.objects.filter(operation="download", outcome="refused").count() == 1


def test_application_rules(consumer, issuer, license_type, other_issuer_user):
    from tests.support import make_type

    foreign = make_type(other_issuer_user, seq=6, requires_review=False)
    mixed = consumer.post(
        "/api/v1/bulk-requests/",
        application(license_type, type_codes=[license_type.type_code, foreign.type_code]),
        format="json",
    )
    assert (mixed.status_code, mixed.json()["code"]) == (400, "bulk.mixed_issuers")
    unknown = consumer.post(
        "/api/v1/bulk-requests/", application(license_type, fields=["password"]), format="json"
    )
    assert (unknown.status_code, unknown.json()["code"]) == (400, "bulk.field_unknown")
    issuer_applies = issuer.post("/api/v1/bulk-requests/", application(license_type), format="json")
    assert (issuer_applies.status_code, issuer_applies.json()["code"]) == (
        403,
        "access.not_consumer",
    )
    assert BulkRequest.objects.count() == 0


def test_an_export_is_digested_a_mib_at_a_time(tmp_path):
    import os
    import tracemalloc

    from shared.access import bulk

    # given: a 12 MiB export on disk
    data = os.urandom(1 << 20) * 12
    path = tmp_path / "bulk.csv"
    path.write_bytes(data)
    # when
    tracemalloc.start()
    try:
        digest = bulk._file_sm3(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # then: the whole file's digest, never more than a few MiB held
    assert digest == sm3_hex(data)
    assert peak < 3 << 20, peak
