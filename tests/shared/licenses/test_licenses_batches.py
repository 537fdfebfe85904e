"""Bulk upload processed by a real Celery worker (Redis broker), with progress and per-row errors."""

import json
import time
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.utils import timezone

from municipal_node.celery import app
from shared.licenses.batches import batch_process
from shared.licenses.models import Batch, BatchItem, License
from tests.support import make_uscc

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def celery_worker():
    app.conf.broker_url = app.conf.broker_url or "redis://127.0.0.1:6379/15"
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("default")
    with start_worker(app, perform_ping_check=False, pool="solo", queues=["default"]) as worker:
        yield worker


def rows(license_type, count, *, bad=()):
    today = timezone.localdate()
    items = []
    for i in range(count):
        items.append(
            {
                "type_code": license_type.type_code,
                "number": f"PL{i:05d}",
                "holder": {
                    "name": f"批量企业{i}",
                    "code": make_uscc(dept="91", area="410100", body=f"MB{i:06d}"),
                    "code_type": "001",
                },
                "valid_from": today.isoformat(),
                "valid_to": (today + timedelta(days=365)).isoformat(),
                "case_completed_at": (timezone.now() - timedelta(hours=1)).isoformat(),
                "surface": {"经营者名称": f"批量企业{i}"} if i not in bad else {},
            }
        )
    return items


def wait_done(client, batch_id, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/api/v1/licenses/batches/{batch_id}/").json()
        if body["state"] == "done":
            return body
        time.sleep(0.2)
    raise AssertionError(f"batch not done: {body}")


def test_batch_is_issued_by_the_worker_with_progress_and_row_errors(
    celery_worker, issuer, license_type
):
    response = issuer.post(
        "/api/v1/licenses/batches/",
        {"mode": "bulk", "items": rows(license_type, 12, bad={3, 7})},
        format="json",
    )
    assert response.status_code == 202, response.json()
    accepted = response.json()
    assert accepted["total"] == 12
    body = wait_done(issuer, accepted["id"])
    assert (body["processed"], body["succeeded"], body["failed"]) == (12, 10, 2)
    assert body["progress"] == 1.0
    assert [(e["index"], e["error_code"]) for e in body["errors"]] == [
        (3, "surface.invalid"),
        (7, "surface.invalid"),
    ]
    assert License.objects.filter(mode="bulk").count() == 10
    assert all(ident for i, ident in enumerate(body["identifiers"]) if i not in (3, 7))


def test_malformed_upload_is_refused_whole(issuer, license_type):
    items = rows(license_type, 3)
    items[1]["valid_from"] = "not-a-date"
    response = issuer.post(
        "/api/v1/licenses/batches/", {"mode": "bulk", "items": items}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert Batch.objects.count() == 0


def test_a_full_batch_fits_in_one_request(issuer, license_type, settings):
    """BATCH_MAX_ITEMS rows of about a kilobyte each are accepted in one upload (Django's own
    2.5 MB limit refused them with an HTML page)."""
    items = rows(license_type, settings.BATCH_MAX_ITEMS)
    for item in items:
        item["surface"]["经营范围"] = "预包装食品销售；散装食品销售；保健食品销售；" * 8
    body = json.dumps({"mode": "bulk", "items": items}, ensure_ascii=False).encode()
    assert len(body) > 2.5 * 1024 * 1024
    response = issuer.post("/api/v1/licenses/batches/", body, content_type="application/json")
    assert response.status_code == 202, response.content[:300]
    assert Batch.objects.get().total == settings.BATCH_MAX_ITEMS


def test_a_body_over_the_limit_is_refused_with_a_json_error(issuer, license_type, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
    items = rows(license_type, 10)
    items[0]["surface"]["备注"] = "长" * (1024 * 1024)
    response = issuer.post(
        "/api/v1/licenses/batches/", {"mode": "bulk", "items": items}, format="json"
    )
    assert response.status_code == 413
    body = response.json()
    assert body["code"] == "request.too_large"
    assert "1 MB" in body["message"] and body["detail"] == {"limit_bytes": 1024 * 1024}
    assert Batch.objects.count() == 0


def test_rerunning_a_batch_never_doubles(issuer, license_type, issuer_user):
    # given a batch whose job ran (directly, as a duplicate delivery would)
    response = issuer.post(
        "/api/v1/licenses/batches/",
        {"mode": "offline", "items": rows(license_type, 5)},
        format="json",
    )
    batch_id = response.json()["id"]
    batch_process(batch_id=batch_id)
    # when the same job runs again, and once more after a row was left pending by a "crash"
    batch_process(batch_id=batch_id)
    Batch.objects.filter(pk=batch_id).update(state="running")
    batch_process(batch_id=batch_id)
    # then
    assert License.objects.count() == 5
    assert BatchItem.objects.filter(state="issued").count() == 5
    batch = Batch.objects.get(pk=batch_id)
    assert (batch.processed, batch.succeeded, batch.state) == (5, 5, "done")


def test_consumer_cannot_upload(consumer, license_type):
    response = consumer.post(
        "/api/v1/licenses/batches/", {"mode": "bulk", "items": rows(license_type, 1)}, format="json"
    )
    assert response.status_code == 403
    assert Batch.objects.count() == 0


def test_other_agency_cannot_read_a_batch(issuer, other_issuer, license_type):
    batch_id = issuer.post(
        "/api/v1/licenses/batches/", {"mode": "bulk", "items": rows(license_type, 1)}, format="json"
    ).json()["id"]
    response = other_issuer.get(f"/api/v1/licenses/batches/{batch_id}/")
    assert response.status_code == 404
    assert response.json()["code"] == "batch.not_found"
