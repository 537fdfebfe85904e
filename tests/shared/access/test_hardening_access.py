"""Issue #10, items 3 and 4 (access side): refusals survive a rolled-back transaction (SQLite
too), anonymous noise is counted and rate-limited instead of chained, proofs write nothing,
CSV cells cannot become formulas, one time zone, and purposes of invisible, bidi or control
characters are refused."""

import csv
import io
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import transaction
from django.db.models import Sum
from django.test import Client
from rest_framework.test import APIClient

from shared.access import log
from shared.access.bulk import bulk_request_create
from shared.access.models import AccessRecord, AnonymousCount, Checkpoint
from shared.access.services import access_record, share_query
from shared.core.errors import ApplicationError, ForbiddenError
from tests.shared.access.conftest import MATTER

pytestmark = pytest.mark.django_db
REPO = Path(__file__).resolve().parents[3]


def last_id() -> int:
    return AccessRecord.objects.order_by("-id").values_list("id", flat=True).first() or 0


def counted(kind: str = "", field: str = "count") -> int:
    rows = AnonymousCount.objects.all()
    if kind:
        rows = rows.filter(kind=kind)
    return rows.aggregate(n=Sum(field))["n"] or 0


# --- item 3: a refusal inside a transaction that rolls back ----------------------------------


def test_refusal_of_a_rolled_back_service_stays_recorded(issuer, issuer_user, license_type):
    """PostgreSQL: an issuer applying for a bulk export is refused inside the service's
    transaction, which rolls back; the refusal is committed on a connection of its own."""
    before = last_id()
    body = {
        "type_codes": [license_type.type_code],
        "fields": ["identifier"],
        "period_from": "2026-01-01",
        "period_to": "2026-12-31",
        "matter_code": MATTER,
        "purpose": "统计分析",
        "row_cap": 10,
    }
    response = issuer.post("/api/v1/bulk-requests/", body, format="json")
    assert (response.status_code, response.json()["code"]) == (403, "access.not_consumer")
    [record] = AccessRecord.objects.filter(id__gt=before)
    assert (record.operation, record.outcome, record.reason_code, record.username) == (
        "bulk_request",
        "refused",
        "access.not_consumer",
        issuer_user.username,
    )


def test_refusal_raised_inside_an_atomic_block_survives_its_rollback(issuer_user):
    before = last_id()
    with pytest.raises(ForbiddenError), transaction.atomic():
        bulk_request_create(
            actor=issuer_user,
            type_codes=["x"],
            fields=["identifier"],
            period_from=None,
            period_to=None,
            matter_code=MATTER,
            purpose="统计",
            row_cap=1,
        )
    assert AccessRecord.objects.filter(id__gt=before, reason_code="access.not_consumer").exists()


SQLITE_SCRIPT = textwrap.dedent(
    """
    import django
    django.setup()
    from django.db import transaction
    from shared.access.log import log_flush_deferred
    from shared.access.models import AccessRecord, AnonymousCount
    from shared.access.services import access_record
    from tests.support import make_agency, make_user, token_client

    issuer = make_agency("市场监督管理局", body="00001001", is_issuer=True)
    user = make_user("issuer_1", issuer)
    client = token_client(user)
    body = {"type_codes": ["X"], "fields": ["identifier"], "period_from": "2026-01-01",
            "period_to": "2026-12-31", "matter_code": "M0001", "purpose": "统计",
            "row_cap": 10}
    response = client.post("/api/v1/bulk-requests/", body, format="json")
    assert response.status_code == 403, response.content
    refused = list(AccessRecord.objects.values_list("operation", "outcome", "reason_code"))
    assert refused == [("bulk_request", "refused", "access.not_consumer")], refused
    # held back inside a transaction: written at its commit ...
    with transaction.atomic():
        access_record(user=user, operation="query", matter_code="M1", use_cause="提交",
                      licenses=[], outcome="none")
    assert AccessRecord.objects.filter(matter_code="M1").count() == 1
    # ... and after its rollback, at the next flush
    with transaction.atomic():
        access_record(user=user, operation="query", matter_code="M2", use_cause="回滚",
                      licenses=[], outcome="refused", reason_code="x")
        transaction.set_rollback(True)
    assert log_flush_deferred() == 1
    assert AccessRecord.objects.filter(matter_code="M2").count() == 1
    # anonymous refusals: counted in one row per minute and kind
    from rest_framework.test import APIClient
    for _ in range(2):
        assert APIClient().get("/api/v1/access-log/").status_code == 401
    counts = list(AnonymousCount.objects.values_list("kind", "count"))
    assert counts == [("api:auth.required", 2)], counts
    print("SQLITE-OK")
    """
)


def test_refusal_of_a_rolled_back_service_stays_recorded_on_sqlite(tmp_path):
    """SQLite (the demo) has one writer, so a record made inside a transaction waits for its
    end; before the fix it shared the transaction and vanished with the rollback."""
    env = {
        **os.environ,
        "NODE_SETTINGS_MODULE": "municipal_node.settings.test",
        "DJANGO_SETTINGS_MODULE": "municipal_node.settings.test",
        "TEST_DATABASE_URL": f"sqlite:///{tmp_path / 'node.sqlite3'}",
        "TEST_REDIS_URL": django_settings.CELERY_BROKER_URL,
        "VAR_DIR": str(tmp_path / "var"),
        "PYTHONPATH": str(REPO),
    }
    migrate = subprocess.run(
        [sys.executable, "manage.py", "node", "migrate", "-v0"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert migrate.returncode == 0, migrate.stderr[-2000:]
    run = subprocess.run(
        [sys.executable, "-c", SQLITE_SCRIPT],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0 and "SQLITE-OK" in run.stdout, run.stderr[-3000:]


# --- item 4: anonymous noise ------------------------------------------------------------------


def test_anonymous_refusals_are_counted_not_chained(anon, settings):
    before, kinds = last_id(), counted()
    noisy = {
        "holder": {"code": "=cmd|'/c calc'!A1", "code_type": "001"},
        "matter_code": "=1+1",
        "use_cause": "攻击者自选的文字 " + uuid.uuid4().hex,
    }
    for _ in range(3):
        response = anon.post("/api/v1/share/query/", noisy, format="json")
        assert (response.status_code, response.json()["code"]) == (401, "auth.required")
    stranger = APIClient()
    stranger.credentials(HTTP_AUTHORIZATION="Bearer elc_forged_token_" + uuid.uuid4().hex)
    assert stranger.get("/api/v1/access-log/").status_code == 401
    assert not AccessRecord.objects.filter(id__gt=before).exists()
    assert counted() == kinds + 4
    assert AnonymousCount.objects.filter(kind="api:auth.required").exists()
    assert AnonymousCount.objects.filter(kind="api:auth.failed").exists()
    # nothing the caller wrote is kept anywhere in the counters
    stored = " ".join(AnonymousCount.objects.values_list("kind", flat=True))
    assert noisy["use_cause"][-32:] not in stored and "=1+1" not in stored


def test_anonymous_noise_is_rate_limited_per_address(anon, settings):
    settings.ACCESS_ANON_PER_MINUTE = 3
    limited_before = counted("api:auth.required", "limited")
    codes = [anon.get("/api/v1/grants/").status_code for _ in range(5)]
    assert codes == [401, 401, 401, 429, 429]
    over = anon.get("/api/v1/grants/")
    body = over.json()
    assert (body["code"], set(body)) == ("rate_limited", {"code", "message", "detail"})
    assert body["detail"]["retry_after_seconds"] > 0 and "频繁" in body["message"]
    assert counted("api:auth.required", "limited") == limited_before + 3
    other = APIClient(REMOTE_ADDR="192.0.2.7")  # another address has its own budget
    assert other.get("/api/v1/grants/").status_code == 401


def test_unknown_holder_links_are_counted_and_rate_limited(settings):
    settings.ACCESS_ANON_PER_MINUTE = 2
    before, kind = last_id(), "holder_link:share.not_found"
    total = counted(kind)
    client = Client()
    statuses = [
        client.get(f"/holder/s/guess-{i}-{uuid.uuid4().hex}/").status_code for i in range(3)
    ]
    assert statuses == [404, 404, 429]
    assert not AccessRecord.objects.filter(id__gt=before).exists()
    assert counted(kind) == total + 3
    assert not AnonymousCount.objects.filter(kind__contains="guess").exists()


# --- item 4: proofs come from existing checkpoints -------------------------------------------


def _append(user, n):
    for i in range(n):
        access_record(
            user=user,
            operation="query",
            matter_code=MATTER,
            use_cause=f"核验 {i}",
            licenses=[],
            outcome="none",
        )


def test_proof_reads_write_no_checkpoint(consumer, consumer_user):
    _append(consumer_user, 3)
    first = log.checkpoint_create()
    _append(consumer_user, 2)
    log.log_sequence()
    checkpoints = Checkpoint.objects.count()
    for _ in range(3):
        response = consumer.get("/api/v1/access-log/proof/2/")
        assert response.status_code == 200, response.json()
        assert response.json()["checkpoint"]["tree_size"] == first.tree_size
        assert response.json()["verified"] is True
    pending = consumer.get("/api/v1/access-log/proof/5/")
    body = pending.json()
    assert (pending.status_code, body["code"]) == (409, "access.proof_pending")
    assert body["detail"]["retry_after_seconds"] == django_settings.ACCESS_CHECKPOINT_SECONDS
    assert "稍后" in body["message"] or "后再试" in body["message"]
    assert Checkpoint.objects.count() == checkpoints
    log.checkpoint_create()  # the beat's next checkpoint covers it
    assert consumer.get("/api/v1/access-log/proof/5/").status_code == 200


# --- item 4: the CSV export -------------------------------------------------------------------


def test_csv_export_cells_are_not_formulas_and_times_are_shanghai(admin, consumer_user):
    causes = ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "普通事由"]
    for cause in causes:
        access_record(
            user=consumer_user,
            operation="query",
            matter_code="=1+1" if cause.startswith("=") else MATTER,
            use_cause=cause,
            licenses=[],
            outcome="none",
        )
    response = admin.get("/api/v1/access-log/export/")
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))[1:]
    written = [row for row in rows if row[5] == "query"]
    assert [row[9] for row in written] == [
        '\'=HYPERLINK("http://x")',
        "'+1+1",
        "'-2+3",
        "'@SUM(A1)",
        "普通事由",
    ]
    assert written[0][8] == "'=1+1"
    for row in rows:
        assert not row[9].startswith(("=", "+", "-", "@", "\t", "\r"))
        assert row[1].endswith("+08:00"), row[1]
    api = admin.get("/api/v1/access-log/").json()["results"]
    api_times = {r["occurred_at"] for r in api}
    assert {row[1] for row in written} <= api_times


# --- use_cause: invisible, bidi and control characters ---------------------------------------

BAD_CAUSES = [
    "\u200b\u200b\u200b",  # only zero-width spaces
    "\u200c\u2060\ufeff",  # only other invisible format characters
    "核验\u202e证照原件",  # right-to-left override
    "核验\u2066原证\u2069",  # isolate
    "核验\x07原证",  # control character
    "核验\n原证",
]


@pytest.mark.parametrize("cause", BAD_CAUSES)
def test_invisible_bidi_and_control_purposes_are_refused(
    consumer, granted_consumer, licence, query_body, cause
):
    before = last_id()
    response = consumer.post("/api/v1/share/query/", query_body(use_cause=cause), format="json")
    body = response.json()
    assert (response.status_code, body["code"]) == (400, "access.purpose_invalid"), body
    assert "用证事由" in body["message"]
    [record] = AccessRecord.objects.filter(id__gt=before)
    assert (record.outcome, record.reason_code) == ("refused", "access.purpose_invalid")
    assert not any(c in record.use_cause for c in "\u202e\u2066\u2069\x07\n")


def test_the_service_and_bulk_requests_refuse_them_too(
    consumer, consumer_user, granted_consumer, licence, holder_code, license_type
):
    with pytest.raises(ApplicationError) as refused:
        share_query(
            user=consumer_user,
            holder_code=holder_code,
            holder_code_type="001",
            matter_code=MATTER,
            use_cause="\u200b\u200d",
        )
    assert (refused.value.code, refused.value.status_code) == ("access.purpose_invalid", 400)
    body = {
        "type_codes": [license_type.type_code],
        "fields": ["identifier"],
        "period_from": "2026-01-01",
        "period_to": "2026-12-31",
        "matter_code": MATTER,
        "purpose": "统计\u202e分析",
        "row_cap": 10,
    }
    response = consumer.post("/api/v1/bulk-requests/", body, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "access.purpose_invalid")
    fine = consumer.post(
        "/api/v1/share/query/",
        {
            "holder": {"code": holder_code, "code_type": "001"},
            "matter_code": MATTER,
            "use_cause": "办理变更（核验原证）",
        },
        format="json",
    )
    assert fine.status_code == 200 and fine.json()["count"] == 1


def test_caller_text_is_stored_safely_in_a_refusal(consumer_user):
    """A refusal carrying a lone surrogate, bidi override or control character is still
    recorded (no 500 while recording), with those characters shown as U+FFFD."""
    record = access_record(
        user=consumer_user,
        operation="query",
        matter_code="M\ud800",
        use_cause="核验\u202e\x07\ud800原证",
        licenses=[],
        outcome="refused",
        reason_code="validation_error",
        holder_code="\ud800",
        holder_code_type="001",
        detail={"note": "x\ud800"},
    )
    record.refresh_from_db()
    assert (record.matter_code, record.use_cause) == ("M\ufffd", "核验\ufffd\ufffd\ufffd原证")
    assert record.detail == {"note": "x\ufffd"}
    assert record.leaf_hash == log.content_leaf_hash(log.record_content(record))
