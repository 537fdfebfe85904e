"""Authorisation matrix: every sharing/accountability endpoint × every role → expected status.

For each refusal: the error shape only (no licence data, no holder code in the body) and an
access record of the refusal written before the answer. Each call runs in a transaction that is
rolled back afterwards, so calls do not change each other's world, while the refusal records,
written through their own connection, stay.

Roles at this library: anonymous; a holder signed in to the portal (session); staff of an issuer
of another type; a consumer without any grant; a consumer whose grant is for another matter; the
agency administrator of an agency from another city; a token issued by another library (another
city's node administrator or the hub operator have no account here); this library's
administrator (node administrator here, hub operator at the hub); and, as positive controls,
the granted consumer and the issuer of the type.
"""

import pytest
from django.db import transaction
from rest_framework.test import APIClient

from shared.access import log
from shared.access.bulk import bulk_request_create
from shared.access.models import AccessRecord, Grant
from shared.access.portal import holder_create
from tests.access.conftest import MATTER, grant, issue
from tests.support import make_agency, make_type, make_user, token_client

pytestmark = pytest.mark.django_db

ROLES = [
    "anonymous",
    "holder",
    "other_issuer",
    "consumer_no_grant",
    "consumer_other_matter",
    "other_city_agency_admin",
    "other_library_token",
    "library_admin",
    "consumer_granted",
    "issuer",
]


def row(*statuses):
    return dict(zip(ROLES, statuses, strict=True))


#         anon hold oiss nogr omat ocit olib admn cons issr
MATRIX = {
    "query": row(401, 403, 403, 403, 403, 403, 401, 403, 200, 403),
    "log": row(401, 200, 200, 200, 200, 200, 401, 200, 200, 200),
    "log_export": row(401, 200, 200, 200, 200, 200, 401, 200, 200, 200),
    "proof": row(401, 404, 404, 404, 404, 404, 401, 200, 200, 200),
    "checkpoint": row(401, 403, 200, 200, 200, 200, 401, 200, 200, 200),
    "verify": row(401, 403, 403, 403, 403, 403, 401, 200, 403, 403),
    "grants": row(401, 200, 200, 200, 200, 200, 401, 200, 200, 200),
    "grant_create": row(401, 403, 403, 403, 403, 403, 401, 201, 403, 403),
    "grant_revoke": row(401, 403, 403, 403, 403, 403, 401, 200, 403, 403),
    "bulk_list": row(401, 200, 200, 200, 200, 200, 401, 200, 200, 200),
    "bulk_create": row(401, 403, 403, 201, 201, 403, 401, 403, 201, 403),
    "bulk_detail": row(401, 404, 404, 404, 404, 404, 401, 200, 200, 200),
    "bulk_approve": row(401, 403, 404, 404, 404, 404, 401, 404, 403, 200),
    "bulk_download": row(401, 404, 404, 404, 404, 404, 401, 404, 409, 404),
}
# Who may see the licence's identifier in a 2xx answer.
SEES_LICENCE = {
    "query": {"consumer_granted"},
    "log": {"library_admin", "consumer_granted", "issuer"},
    "log_export": {"library_admin", "consumer_granted", "issuer"},
}


@pytest.fixture
def world(
    issuer_user,
    other_issuer_user,
    consumer_user,
    consumer_agency,
    license_type,
    library_admin,
    holder_code,
):
    licence = issue(issuer_user, license_type)
    grant(consumer_agency, license_type)
    make_type(other_issuer_user, seq=9, requires_review=False)
    other_matter = make_agency("人社局", body="00002003", is_consumer=True)
    grant(other_matter, license_type, matter="M9999")
    no_grant = make_agency("公积金中心", body="00002004", is_consumer=True)
    other_city = make_agency("洛阳市政务服务中心", body="00003001", area="410300")
    holder, _ = holder_create(
        username="holder_1",
        password="Holder-12345",
        display_name="郑州豫中食品有限公司",
        holder_code=holder_code,
        holder_code_type="001",
    )
    holder_client = APIClient(enforce_csrf_checks=True)
    holder_client.force_login(holder)
    stranger = APIClient()
    stranger.credentials(HTTP_AUTHORIZATION="Bearer elc_issued_by_another_library_xxxxxxxx")
    clients = {
        "anonymous": APIClient(),
        "holder": holder_client,
        "other_issuer": token_client(other_issuer_user),
        "consumer_no_grant": token_client(make_user("nogrant_1", no_grant)),
        "consumer_other_matter": token_client(make_user("othermatter_1", other_matter)),
        "other_city_agency_admin": token_client(
            make_user("ly_admin", other_city, role="agency_admin")
        ),
        "other_library_token": stranger,
        "library_admin": token_client(library_admin),
        "consumer_granted": token_client(consumer_user),
        "issuer": token_client(issuer_user),
    }
    query = {
        "holder": {"code": holder_code, "code_type": "001"},
        "matter_code": MATTER,
        "use_cause": "办理食品经营许可变更，核验原证",
    }
    assert (
        clients["consumer_granted"].post("/api/v1/share/query/", query, format="json").status_code
        == 200
    )
    log.checkpoint_create()
    seq = AccessRecord.objects.get(identifier=licence.identifier, operation="query").seq
    from django.utils import timezone

    bulk = bulk_request_create(
        actor=consumer_user,
        type_codes=[license_type.type_code],
        fields=["identifier"],
        period_from=timezone.localdate(),
        period_to=timezone.localdate(),
        matter_code=MATTER,
        purpose="统计分析",
        row_cap=10,
    )
    bulk_body = {
        "type_codes": [license_type.type_code],
        "fields": ["identifier"],
        "period_from": "2026-01-01",
        "period_to": "2026-12-31",
        "matter_code": MATTER,
        "purpose": "统计分析",
        "row_cap": 10,
    }
    grant_body = {
        "agency_code": no_grant.code,
        "type_code": license_type.type_code,
        "matter_code": "M0003",
    }
    target_grant = Grant.objects.filter(agency=consumer_agency).first()
    calls = {
        "query": ("post", "/api/v1/share/query/", query),
        "log": ("get", "/api/v1/access-log/", None),
        "log_export": ("get", "/api/v1/access-log/export/", None),
        "proof": ("get", f"/api/v1/access-log/proof/{seq}/", None),
        "checkpoint": ("get", "/api/v1/access-log/checkpoint/", None),
        "verify": ("get", "/api/v1/access-log/verify/", None),
        "grants": ("get", "/api/v1/grants/", None),
        "grant_create": ("post", "/api/v1/grants/", grant_body),
        "grant_revoke": ("post", f"/api/v1/grants/{target_grant.pk}/revoke/", {}),
        "bulk_list": ("get", "/api/v1/bulk-requests/", None),
        "bulk_create": ("post", "/api/v1/bulk-requests/", bulk_body),
        "bulk_detail": ("get", f"/api/v1/bulk-requests/{bulk.pk}/", None),
        "bulk_approve": ("post", f"/api/v1/bulk-requests/{bulk.pk}/approve/", {}),
        "bulk_download": ("get", f"/api/v1/bulk-requests/{bulk.pk}/download/", None),
    }
    return {"clients": clients, "calls": calls, "licence": licence, "holder_code": holder_code}


def body_text(response):
    if hasattr(response, "streaming_content"):
        return b"".join(response.streaming_content).decode("utf-8-sig")
    return response.content.decode()


def test_authorisation_matrix(world):
    failures = []
    for endpoint, expected_by_role in MATRIX.items():
        method, path, payload = world["calls"][endpoint]
        for role, expected in expected_by_role.items():
            client = world["clients"][role]
            before = AccessRecord.objects.filter(outcome="refused").count()
            with transaction.atomic():
                if method == "post":
                    response = client.post(path, payload, format="json")
                else:
                    response = client.get(path)
                text = body_text(response)
                transaction.set_rollback(True)
            refusals = AccessRecord.objects.filter(outcome="refused").count() - before
            where = f"{endpoint} as {role}"
            if response.status_code != expected:
                failures.append(f"{where}: {response.status_code} != {expected}: {text[:200]}")
                continue
            if expected >= 400:
                body = response.json()
                if set(body) != {"code", "message", "detail"}:
                    failures.append(f"{where}: not the error shape: {body}")
                if world["licence"].identifier in text or world["holder_code"] in text:
                    failures.append(f"{where}: licence data in a refusal")
                if refusals < 1:
                    failures.append(f"{where}: refusal not recorded")
                else:
                    last = AccessRecord.objects.filter(outcome="refused").order_by("-id").first()
                    if last.reason_code != body["code"]:
                        failures.append(f"{where}: recorded {last.reason_code} for {body['code']}")
            elif endpoint in SEES_LICENCE:
                shown = world["licence"].identifier in text
                if shown != (role in SEES_LICENCE[endpoint]):
                    failures.append(f"{where}: licence shown={shown}")
    assert failures == []
