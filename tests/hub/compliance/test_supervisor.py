"""The supervisor (省发改委, art. 6, 31): reads what supervision needs, issues and closes notices,
and never issues, changes or queries licences — each refusal 403 `permission.supervisor_refused`,
nothing changed, and where the call is a use of licences, an access record of the refusal."""

from io import StringIO

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from shared.access.models import AccessRecord, BulkRequest
from shared.accounts.models import User
from shared.licenses.models import Batch, License, LicenseEvent
from tests.shared.access.conftest import MATTER, grant
from tests.support import make_uscc

pytestmark = pytest.mark.django_db
REFUSED = "permission.supervisor_refused"


@pytest.fixture
def world(licence, consumer_agency, license_type):
    grant(consumer_agency, license_type)
    return licence


def snapshot():
    return (
        License.objects.count(),
        list(License.objects.values_list("identifier", "status", "version", "pledged")),
        LicenseEvent.objects.count(),
        Batch.objects.count(),
        BulkRequest.objects.count(),
    )


def calls(licence, license_type, issue_payload):
    ident = licence.identifier
    share = {"identifier": ident, "matter_code": MATTER, "use_cause": "核验食品经营许可证"}
    return {
        # licences: issue, lifecycle, list, detail, versions, events, bulk upload
        "issue": ("post", "/api/v1/licenses/", issue_payload(number="SUP1"), False),
        "suspend": ("post", f"/api/v1/licenses/{ident}/suspend/", {"reason": "监管暂扣"}, False),
        "revoke": ("post", f"/api/v1/licenses/{ident}/revoke/", {"reason": "监管吊销"}, False),
        "list": ("get", "/api/v1/licenses/", None, False),
        "detail": ("get", f"/api/v1/licenses/{ident}/", None, False),
        "versions": ("get", f"/api/v1/licenses/{ident}/versions/", None, False),
        "events": ("get", f"/api/v1/licenses/{ident}/events/", None, False),
        "batch": ("post", "/api/v1/licenses/batches/", {"mode": "bulk", "items": []}, False),
        # uses of licences: each refusal is an access record
        "query": (
            "post",
            "/api/v1/share/query/",
            {
                "holder": {
                    "code": make_uscc(dept="91", area="410100", body="MA3X7Y8L"),
                    "code_type": "001",
                },
                "matter_code": MATTER,
                "use_cause": "核验原证",
            },
            True,
        ),
        "verify": ("post", "/api/v1/share/verify/", share, True),
        "compare": (
            "post",
            "/api/v1/share/verify/",
            {**share, "fields": {"holder_name": "郑州豫中食品有限公司"}},
            True,
        ),
        "copy": ("post", "/api/v1/share/copies/", share, True),
        "file_pdf": ("get", f"/api/v1/licenses/{ident}/file.pdf", None, True),
        "bulk_create": (
            "post",
            "/api/v1/bulk-requests/",
            {
                "type_codes": [license_type.type_code],
                "fields": ["identifier"],
                "period_from": "2026-01-01",
                "period_to": "2026-12-31",
                "matter_code": MATTER,
                "purpose": "统计分析",
                "row_cap": 10,
            },
            True,
        ),
        "bulk_list": ("get", "/api/v1/bulk-requests/", None, True),
    }


def test_the_supervisor_cannot_issue_change_or_query_licences(
    world, supervisor, license_type, issue_payload
):
    failures = []
    for name, (method, path, body, recorded) in calls(world, license_type, issue_payload).items():
        before = snapshot()
        last = AccessRecord.objects.order_by("-id").values_list("id", flat=True).first() or 0
        response = (
            supervisor.post(path, body, format="json")
            if method == "post"
            else (supervisor.get(path))
        )
        if response.status_code != 403 or response.json()["code"] != REFUSED:
            failures.append(f"{name}: {response.status_code} {response.content[:200]!r}")
            continue
        if set(response.json()) != {"code", "message", "detail"}:
            failures.append(f"{name}: not the error shape")
        if world.identifier in response.content.decode() and name not in ("detail",):
            failures.append(f"{name}: the licence in a refusal")
        if snapshot() != before:
            failures.append(f"{name}: something changed")
        records = list(AccessRecord.objects.filter(id__gt=last))
        if recorded:
            if [(r.outcome, r.reason_code, r.username) for r in records] != [
                ("refused", REFUSED, "supervisor")
            ]:
                failures.append(f"{name}: recorded as {records}")
    assert not failures, "\n".join(failures)


def test_the_supervisor_reads_what_supervision_needs(supervisor, license_type):
    for path in (
        "/api/v1/compliance/notices/",
        "/api/v1/compliance/runs/",
        "/api/v1/compliance/timeliness/",
        "/api/v1/aggregation/nodes/",
        "/api/v1/audit/",
        "/api/v1/reviews/",
        "/api/v1/reviews/overdue/",
        "/api/v1/inspections/",
        "/api/v1/catalog/types/",
        "/api/v1/me/",
    ):
        response = supervisor.get(path)
        assert response.status_code == 200, (path, response.content[:200])


def test_the_supervisor_is_created_by_a_command_and_not_over_the_api(admin, issuer_agency):
    out = StringIO()
    call_command(
        "supervisor",
        "create",
        "--username",
        "fgw_1",
        "--display-name",
        "李监管",
        "--token",
        stdout=out,
    )
    user = User.objects.get(username="fgw_1")
    assert (user.role, user.agency_id, user.display_name) == ("supervisor", None, "李监管")
    token = out.getvalue().split("token=")[1].strip()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert client.get("/api/v1/compliance/notices/").status_code == 200
    assert client.get("/api/v1/licenses/").json()["code"] == REFUSED
    # an administrator's user form offers staff roles only
    response = admin.post(
        f"/api/v1/agencies/{issuer_agency.code}/users/",
        {"username": "fgw_2", "role": "supervisor"},
        format="json",
    )
    assert response.status_code == 400
    assert not User.objects.filter(username="fgw_2").exists()
