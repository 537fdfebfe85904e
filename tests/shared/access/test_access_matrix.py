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

The files app's endpoints are in it too: verify, verify-file and annotated copies (purpose-bound,
through `authorize_share`), the per-licence file.pdf, file.ofd, qr.png, qr-token and archive.zip
(the issuer and the library administrator only), the public endpoints anyone may call (scan page,
public verify, trust list, status lists), and the holder portal's pages (the holder signed in
with password and one-time code; everyone else is sent to sign in: a redirect, not a refusal).
"""

from binascii import unhexlify

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.db.models import Sum
from django.test import Client
from django_otp.oath import totp
from rest_framework.test import APIClient

from shared.access import log
from shared.access.bulk import bulk_request_create
from shared.access.models import AccessRecord, AnonymousCount, Grant
from shared.access.portal import holder_create, holder_share_create, holder_share_link_token
from shared.files import documents, keystore, services, storage
from shared.files.selectors import file_row
from shared.licenses.models import LicenseVersion
from tests.shared.access.conftest import MATTER, grant, issue
from tests.shared.files.files_support import render_pending
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
    "supervisor",
]


# file.ofd: not offered yet (404 file.ofd_not_available) or, once offered, the file.
OFD = frozenset({200, 404})


def row(*statuses):
    return dict(zip(ROLES, statuses, strict=True))


#         anon hold oiss nogr omat ocit olib admn cons issr supv
MATRIX = {
    "query": row(401, 403, 403, 403, 403, 403, 401, 403, 200, 403, 403),
    "log": row(401, 200, 200, 200, 200, 200, 401, 200, 200, 200, 200),
    "log_export": row(401, 200, 200, 200, 200, 200, 401, 200, 200, 200, 200),
    "proof": row(401, 404, 404, 404, 404, 404, 401, 200, 200, 200, 404),
    "checkpoint": row(401, 403, 200, 200, 200, 200, 401, 200, 200, 200, 200),
    "verify": row(401, 403, 403, 403, 403, 403, 401, 202, 403, 403, 403),
    "grants": row(401, 200, 200, 200, 200, 200, 401, 200, 200, 200, 200),
    "grant_create": row(401, 403, 403, 403, 403, 403, 401, 201, 403, 403, 403),
    "grant_revoke": row(401, 403, 403, 403, 403, 403, 401, 200, 403, 403, 403),
    "bulk_list": row(401, 200, 200, 200, 200, 200, 401, 200, 200, 200, 403),
    "bulk_create": row(401, 403, 403, 201, 201, 403, 401, 403, 201, 403, 403),
    "bulk_detail": row(401, 404, 404, 404, 404, 404, 401, 200, 200, 200, 403),
    "bulk_approve": row(401, 403, 404, 404, 404, 404, 401, 404, 403, 200, 403),
    "bulk_download": row(401, 404, 404, 404, 404, 404, 401, 404, 409, 404, 403),
    # the files app: purpose-bound sharing (the holder's session POSTs carry no CSRF token)
    "share_verify": row(401, 403, 403, 403, 403, 403, 401, 200, 200, 200, 403),
    "share_verify_file": row(401, 403, 403, 403, 403, 403, 401, 200, 200, 200, 403),
    "copy_create": row(401, 403, 403, 403, 403, 403, 401, 403, 201, 201, 403),
    "copy_detail": row(401, 404, 404, 404, 404, 404, 401, 200, 200, 404, 403),
    "copy_file": row(401, 404, 404, 404, 404, 404, 401, 200, 200, 404, 403),
    # the files app: per-licence files (issuer and library administrator; consumers use copies)
    "file_pdf": row(401, 404, 404, 404, 404, 404, 401, 200, 404, 200, 403),
    "file_ofd": row(401, 404, 404, 404, 404, 404, 401, OFD, 404, OFD, 403),
    "qr_png": row(401, 404, 404, 404, 404, 404, 401, 200, 404, 200, 403),
    "qr_token": row(401, 403, 404, 404, 404, 404, 401, 201, 404, 201, 403),
    "archive_zip": row(401, 404, 404, 404, 404, 404, 401, 200, 404, 200, 403),
    # anyone may
    "verify_page": row(*[200] * len(ROLES)),
    "public_verify": row(*[200] * len(ROLES)),
    "trust_list": row(*[200] * len(ROLES)),
    "status_list": row(*[200] * len(ROLES)),
    "holder_share_open": row(*[200] * len(ROLES)),
    # the holder portal (server-rendered): the signed-in holder, or the sign-in page
    "holder_home": row(302, 200, 302, 302, 302, 302, 302, 302, 302, 302, 302),
    "holder_accesses": row(302, 200, 302, 302, 302, 302, 302, 302, 302, 302, 302),
    # issue #14: own files, the log's CSV, share links and delegations
    "holder_file_pdf": row(302, 200, 302, 302, 302, 302, 302, 302, 302, 302, 302),
    "holder_archive_zip": row(302, 200, 302, 302, 302, 302, 302, 302, 302, 302, 302),
    "holder_accesses_csv": row(302, 200, 302, 302, 302, 302, 302, 302, 302, 302, 302),
    "holder_shares": row(302, 200, 302, 302, 302, 302, 302, 302, 302, 302, 302),
    "holder_delegations": row(302, 200, 302, 302, 302, 302, 302, 302, 302, 302, 302),
}
# Who may see the licence's identifier in a 2xx answer.
SEES_LICENCE = {
    "query": {"consumer_granted"},
    "log": {"library_admin", "consumer_granted", "issuer"},
    "log_export": {"library_admin", "consumer_granted", "issuer"},
}
# Who names the licence's identifier in the request (path or body): a refusal may echo it.
NAMES_LICENCE = {
    "share_verify",
    "copy_create",
    "file_pdf",
    "file_ofd",
    "qr_png",
    "qr_token",
    "archive_zip",
}
TOTP_KEY = "3132333435363738393031323334353637383930"  # RFC 6238's test key, hex


@pytest.fixture
def files_world(settings, tmp_path):
    settings.FILES_ROOT = str(tmp_path / "files")
    settings.FILES_PUBLIC_BASE_URL = "http://testserver"
    settings.FILES_TSA_URL = ""
    keystore.reset_caches()
    keystore.pki_init()
    yield
    keystore.reset_caches()


def holder_signed_in(holder_code):
    """A holder's session signed in with password and one-time code, for an API client that
    enforces CSRF (as a browser's would be)."""
    holder_create(
        username="holder_1",
        password="Holder-12345",
        display_name="郑州豫中食品有限公司",
        holder_code=holder_code,
        holder_code_type="001",
        totp_key=TOTP_KEY,
    )
    browser = Client()
    code = f"{totp(unhexlify(TOTP_KEY)):06d}"
    response = browser.post(
        "/holder/login/", {"username": "holder_1", "password": "Holder-12345", "otp_token": code}
    )
    assert response.status_code == 302, response.content.decode()[:300]
    client = APIClient(enforce_csrf_checks=True)
    client.cookies = browser.cookies
    return client


@pytest.fixture
def world(
    issuer_user,
    other_issuer_user,
    consumer_user,
    consumer_agency,
    license_type,
    library_admin,
    holder_code,
    files_world,
):
    licence = issue(issuer_user, license_type)
    render_pending()
    grant(consumer_agency, license_type)
    other_type = make_type(other_issuer_user, seq=9, requires_review=False)
    other_matter = make_agency("人社局", body="00002003", is_consumer=True)
    grant(other_matter, license_type, matter="M9999")
    no_grant = make_agency("公积金中心", body="00002004", is_consumer=True)
    other_city = make_agency("洛阳市政务服务中心", body="00003001", area="410300")
    holder_client = holder_signed_in(holder_code)
    stranger = APIClient()
    stranger.credentials(HTTP_AUTHORIZATION="Bearer elc_issued_by_another_library_xxxxxxxx")
    staff = {
        "other_issuer": other_issuer_user,
        "consumer_no_grant": make_user("nogrant_1", no_grant),
        "consumer_other_matter": make_user("othermatter_1", other_matter),
        "other_city_agency_admin": make_user("ly_admin", other_city, role="agency_admin"),
        "library_admin": library_admin,
        "consumer_granted": consumer_user,
        "issuer": issuer_user,
        "supervisor": make_user("supervisor_1", None, role="supervisor"),
    }
    # Who each refusal must name in the log: (username, agency code).
    who = {
        "anonymous": ("", ""),
        "holder": ("holder_1", ""),
        "other_library_token": ("", ""),
        **{
            role: (user.username, user.agency.code if user.agency else "")
            for role, user in staff.items()
        },
    }
    clients = {
        "anonymous": APIClient(),
        "holder": holder_client,
        "other_library_token": stranger,
        **{role: token_client(user) for role, user in staff.items()},
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
    ident = licence.identifier
    share = {"identifier": ident, "matter_code": MATTER, "use_cause": "核验食品经营许可证"}
    pdf = storage.read(file_row(lic=licence).path)
    copy = services.annotated_copy_create(
        actor=consumer_user, license=licence, matter_code=MATTER, use_cause="核验原证", days=7
    )
    version = LicenseVersion.objects.get(license=licence, identifier=ident)
    qr = documents.qr_token_issue(lic=licence, version=version)
    from shared.accounts.models import User

    holder_share = holder_share_create(
        holder=User.objects.get(username="holder_1"),
        identifier=ident,
        use_cause="投标资格审查",
    )
    calls = {
        "query": ("post", "/api/v1/share/query/", query),
        "log": ("get", "/api/v1/access-log/", None),
        "log_export": ("get", "/api/v1/access-log/export/", None),
        "proof": ("get", f"/api/v1/access-log/proof/{seq}/", None),
        "checkpoint": ("get", "/api/v1/access-log/checkpoint/", None),
        "verify": ("post", "/api/v1/access-log/verify/", {}),
        "grants": ("get", "/api/v1/grants/", None),
        "grant_create": ("post", "/api/v1/grants/", grant_body),
        "grant_revoke": ("post", f"/api/v1/grants/{target_grant.pk}/revoke/", {}),
        "bulk_list": ("get", "/api/v1/bulk-requests/", None),
        "bulk_create": ("post", "/api/v1/bulk-requests/", bulk_body),
        "bulk_detail": ("get", f"/api/v1/bulk-requests/{bulk.pk}/", None),
        "bulk_approve": ("post", f"/api/v1/bulk-requests/{bulk.pk}/approve/", {}),
        "bulk_download": ("get", f"/api/v1/bulk-requests/{bulk.pk}/download/", None),
        "share_verify": ("post", "/api/v1/share/verify/", share),
        "share_verify_file": ("upload", "/api/v1/share/verify-file/", {**share, "pdf": pdf}),
        "copy_create": ("post", "/api/v1/share/copies/", share),
        "copy_detail": ("get", f"/api/v1/share/copies/{copy.pk}/", None),
        "copy_file": ("get", f"/api/v1/share/copies/{copy.pk}/file.pdf", None),
        "file_pdf": ("get", f"/api/v1/licenses/{ident}/file.pdf", None),
        "file_ofd": ("get", f"/api/v1/licenses/{ident}/file.ofd", None),
        "qr_png": ("get", f"/api/v1/licenses/{ident}/qr.png", None),
        "qr_token": ("post", f"/api/v1/licenses/{ident}/qr-token/", {}),
        "archive_zip": ("get", f"/api/v1/licenses/{ident}/archive.zip", None),
        "verify_page": ("get", f"/v/{qr.token}", None),
        "public_verify": ("get", f"/api/v1/public/verify/{qr.token}", None),
        "trust_list": ("get", "/api/v1/public/trust-list", None),
        "status_list": (
            "get",
            f"/api/v1/public/status-lists/{licence.issuer.code}/revocation",
            None,
        ),
        "holder_share_open": ("get", f"/holder/s/{holder_share_link_token(holder_share)}/", None),
        "holder_home": ("get", "/holder/", None),
        "holder_accesses": ("get", "/holder/accesses/", None),
        "holder_file_pdf": ("get", f"/holder/licences/{ident}/file.pdf", None),
        "holder_archive_zip": ("get", f"/holder/licences/{ident}/archive.zip", None),
        "holder_accesses_csv": ("get", "/holder/accesses.csv", None),
        "holder_shares": ("get", "/holder/shares/", None),
        "holder_delegations": ("get", "/holder/delegations/", None),
    }
    return {
        "clients": clients,
        "other_type": other_type,
        "who": who,
        "calls": calls,
        "licence": licence,
        "holder_code": holder_code,
        "holder_name": "郑州豫中食品有限公司",
    }


def body_text(response):
    if hasattr(response, "streaming_content"):
        data = b"".join(response.streaming_content)
    else:
        data = response.content
    return data.decode("utf-8-sig", errors="replace")


def send(client, method, path, payload):
    if method == "upload":
        fields = {k: v for k, v in payload.items() if k != "pdf"}
        upload = SimpleUploadedFile("licence.pdf", payload["pdf"], "application/pdf")
        return client.post(path, {**fields, "file": upload}, format="multipart")
    if method == "post":
        return client.post(path, payload, format="json")
    return client.get(path)


def anonymous_counted():
    return AnonymousCount.objects.aggregate(n=Sum("count"))["n"] or 0


def refusal_problems(world, endpoint, role, method, response, text, before_id, anon_before=0):
    """What is wrong with a refusal: its shape, licence data in it, or a missing record (a 401
    is anonymous noise: counted per minute and kind, never a chained record)."""
    problems = []
    body = response.json()
    if set(body) != {"code", "message", "detail"}:
        problems.append(f"not the error shape: {body}")
    if world["holder_code"] in text or world["holder_name"] in text:
        problems.append("holder data in a refusal")
    if endpoint not in NAMES_LICENCE and world["licence"].identifier in text:
        problems.append("an identifier the caller did not send in a refusal")
    records = list(AccessRecord.objects.filter(id__gt=before_id))
    if response.status_code == 401:
        if records:
            problems.append("an anonymous refusal written as a chained record")
        counted = AnonymousCount.objects.filter(kind=f"api:{body['code']}").exists()
        if not counted or anonymous_counted() != anon_before + 1:
            problems.append("anonymous refusal not counted")
        return problems
    if not records:
        problems.append("refusal not recorded")
    elif len({r.request_id for r in records}) > 1:
        problems.append(f"recorded {len(records)} times")
    elif records[0].outcome != "refused" or records[0].reason_code != body["code"]:
        problems.append(f"recorded {records[0].outcome} {records[0].reason_code} for {body}")
    else:
        # A session POST without its CSRF token is refused before the session counts.
        csrf = role == "holder" and method != "get"
        expected = ("", "") if csrf else world["who"][role]
        recorded = (records[0].username, records[0].agency_code)
        if recorded != expected:
            problems.append(f"recorded as {recorded}, not {expected}")
    return problems


def test_authorisation_matrix(world, settings):
    # ~50 anonymous calls in a minute from one address: counted, none over the budget.
    settings.ACCESS_ANON_PER_MINUTE = 10_000
    failures = []
    for endpoint, expected_by_role in MATRIX.items():
        method, path, payload = world["calls"][endpoint]
        for role, expected in expected_by_role.items():
            client = world["clients"][role]
            before_id = AccessRecord.objects.order_by("-id").values_list("id", flat=True).first()
            anon_before = anonymous_counted()
            with transaction.atomic():
                response = send(client, method, path, payload)
                text = body_text(response)
                transaction.set_rollback(True)
            where = f"{endpoint} as {role}"
            allowed = expected if isinstance(expected, frozenset) else {expected}
            if response.status_code not in allowed:
                failures.append(f"{where}: {response.status_code} != {expected}: {text[:200]}")
                continue
            if len(allowed) == 1 and expected >= 400:
                problems = refusal_problems(
                    world, endpoint, role, method, response, text, before_id or 0, anon_before
                )
                failures.extend(f"{where}: {problem}" for problem in problems)
            elif endpoint in SEES_LICENCE:
                shown = world["licence"].identifier in text
                if shown != (role in SEES_LICENCE[endpoint]):
                    failures.append(f"{where}: licence shown={shown}")
    assert not failures, "\n".join(failures)


def test_none_and_not_allowed_look_the_same_to_a_consumer(world, other_issuer_user):
    """A licence of a type the consumer's grants do not cover is answered exactly as one that
    does not exist (no enumeration); the log still tells the two apart."""
    other = issue(other_issuer_user, world["other_type"], holder_body="MA3X7Y8M", number="JY2")
    render_pending()
    missing = other.identifier.replace(".001.", ".002.")
    client = world["clients"]["consumer_granted"]
    share = {"matter_code": MATTER, "use_cause": "核验食品经营许可证"}
    answers = {}
    for name, ident in (("other_type", other.identifier), ("missing", missing)):
        before = AccessRecord.objects.order_by("-id").values_list("id", flat=True).first() or 0
        verify = client.post("/api/v1/share/verify/", {**share, "identifier": ident}, "json")
        copy = client.post("/api/v1/share/copies/", {**share, "identifier": ident}, "json")
        records = AccessRecord.objects.filter(id__gt=before).order_by("id")
        answers[name] = {
            "verify": (verify.status_code, verify.json()),
            "copy": (copy.status_code, copy.json()),
            "log": [(r.operation, r.outcome, r.reason_code, r.identifier) for r in records],
        }
    assert answers["other_type"]["verify"] == answers["missing"]["verify"]
    assert answers["missing"]["verify"][0] == 200
    assert answers["missing"]["verify"][1]["info_result"]["code"] == 5
    assert answers["other_type"]["copy"] == answers["missing"]["copy"]
    assert answers["missing"]["copy"][0] == 404
    assert answers["other_type"]["log"] == [
        ("verify", "refused", "access.no_grant", other.identifier),
        ("copy", "refused", "access.no_grant", other.identifier),
    ]
    assert answers["missing"]["log"] == [("verify", "none", "", ""), ("copy", "none", "", "")]
    # verify-file: the sealed file of the other type's licence shows nothing of the library
    pdf = storage.read(file_row(lic=other).path)
    upload = SimpleUploadedFile("licence.pdf", pdf, "application/pdf")
    response = client.post(
        "/api/v1/share/verify-file/", {**share, "file": upload}, format="multipart"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["info_result"] == answers["missing"]["verify"][1]["info_result"]
    assert body["license"] is None
    assert other.holder_code not in response.content.decode()


def test_an_unknown_or_expired_holder_link_is_a_recorded_refusal(world):
    from django.utils import timezone

    from shared.access.models import HolderShare

    share = HolderShare.objects.get()
    HolderShare.objects.filter(pk=share.pk).update(expires_at=timezone.now())
    for token in ("no-such-link", holder_share_link_token(share)):
        before = AccessRecord.objects.order_by("-id").values_list("id", flat=True).first() or 0
        anon_before = anonymous_counted()
        response = APIClient().get(f"/holder/s/{token}/")
        assert response.status_code == 404
        page = response.content.decode()
        assert world["licence"].identifier not in page
        assert world["holder_name"] not in page
        if token == "no-such-link":  # names no licence: anonymous noise, counted, not chained
            assert not AccessRecord.objects.filter(id__gt=before).exists()
            assert anonymous_counted() == anon_before + 1
            continue
        record = AccessRecord.objects.get(id__gt=before)
        assert (record.outcome, record.reason_code, record.username) == (
            "refused",
            "share.not_found",
            "",
        )
