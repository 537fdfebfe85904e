"""Issue #10 item 2: no input reaches a 500. One input guard for every JSON body (depth, valid
Unicode, integers within 64 bits, size), paging kept within 64 bits, and JSON 404/500 answers
with DEBUG off that name neither the URL patterns nor a traceback."""

import base64
import copy
import json
import sqlite3
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.test import RequestFactory, override_settings
from rest_framework.test import APIClient, APIRequestFactory
from rest_framework.views import APIView

from shared.access.models import AccessRecord
from shared.core import views
from shared.core.api import parsers
from shared.core.api.pagination import LimitOffsetPagination
from shared.core.api.parsers import INT64_MAX, INT64_MIN, InputRefused, guarded_json_loads
from shared.federation.models import OutboxEvent
from shared.licenses.models import License
from tests.support import make_uscc, make_user, token_client

ERROR_KEYS = {"code", "message", "detail"}
DEEP = b'{"x": ' + b"[" * 5000 + b"]" * 5000 + b"}"


def post_raw(client, path, body: bytes):
    return client.post(path, data=body, content_type="application/json")


def assert_refused(response, code: str, status: int = 400):
    assert response.status_code == status, response.content[:300]
    body = response.json()
    assert set(body) == ERROR_KEYS
    assert body["code"] == code, body
    assert isinstance(body["detail"], dict)
    return body


# --- the guard itself: no database, so it refuses before any query (SQLite or PostgreSQL) -------


@pytest.mark.parametrize(
    "raw,code",
    [
        (DEEP, "request.too_deep"),
        (b"[" * 65 + b"]" * 65, "request.too_deep"),
        (b"[" * 5000, "request.too_deep"),  # unbalanced too: the decoder's RecursionError
        (b'{"a": ' * 100 + b"1" + b"}" * 100, "request.too_deep"),
        (b'{"use_cause": "\\ud800"}', "request.invalid_unicode"),
        (b'{"use_cause": "a\\uDFFFb"}', "request.invalid_unicode"),
        (b'{"\\udc00": 1}', "request.invalid_unicode"),
        (b'{"a": "\\ude00\\ud83d"}', "request.invalid_unicode"),  # low before high: two lone
        (b'{"a": "\\xff"}'.replace(b"\\xff", b"\xff"), "request.invalid_unicode"),
        (b'{"a": "\xed\xa0\x80"}', "request.invalid_unicode"),  # a surrogate as UTF-8 bytes
        (b'{"a": ["x\\u0000"]}', "request.nul_character"),
        (b'{"ids": [99999999999999999999999]}', "request.number_out_of_range"),
        (b'{"ids": [9223372036854775808]}', "request.number_out_of_range"),
        (b'{"ids": [-9223372036854775809]}', "request.number_out_of_range"),
        (b"[" + b"9" * 5000 + b"]", "request.number_out_of_range"),
        (b'{"n": 1e400}', "request.number_out_of_range"),
        (b'{"n": -1' + b"0" * 400 + b".0}", "request.number_out_of_range"),
        (b'{"n": NaN}', "request.malformed"),
        (b'{"n": Infinity}', "request.malformed"),
        (b"{not json", "request.malformed"),
    ],
)
def test_the_guard_refuses_before_any_view_or_query(raw, code):
    with pytest.raises(InputRefused) as caught:
        guarded_json_loads(raw)
    assert caught.value.code == code
    assert caught.value.status_code == 400
    json.dumps(caught.value.detail, ensure_ascii=False).encode("utf-8")  # answerable as is


@pytest.mark.parametrize(
    "raw,expected",
    [
        (b"[" * 64 + b"]" * 64, None),
        (b'{"a": "' + b"[" * 500 + b'"}', {"a": "[" * 500}),  # brackets in strings don't count
        (b'{"a": "\\"[[[[\\\\", "b": [1]}', {"a": '"[[[[\\', "b": [1]}),
        (b'{"a": "\\ud83d\\ude00"}', {"a": "\U0001f600"}),  # a surrogate pair is one character
        (b'{"a": "\\\\ud800"}', {"a": "\\ud800"}),  # an escaped backslash, not a surrogate
        (b'{"a": "\xe2\x80\x8b\xe2\x80\xae\xf0\xa0\x80\x80"}', {"a": "\u200b\u202e\U00020000"}),
        (b'{"ids": [9223372036854775807, -9223372036854775808, 1.5, 1e308]}', None),
    ],
)
def test_the_guard_lets_valid_json_through_unchanged(raw, expected):
    data = guarded_json_loads(raw)
    assert data == (expected if expected is not None else json.loads(raw))


def test_the_guard_bounds_are_sqlites_integer_bounds():
    """The 64-bit range refused is exactly what SQLite (the demo's database) cannot bind."""
    db = sqlite3.connect(":memory:")
    for value in (INT64_MAX, INT64_MIN):
        assert db.execute("SELECT ?", (value,)).fetchone() == (value,)
        assert guarded_json_loads(str(value).encode()) == value
    for value in (INT64_MAX + 1, INT64_MIN - 1):
        with pytest.raises(OverflowError):
            db.execute("SELECT ?", (value,))
        with pytest.raises(InputRefused):
            guarded_json_loads(str(value).encode())


def test_the_guard_refuses_a_body_over_max_bytes():
    with pytest.raises(InputRefused) as caught:
        guarded_json_loads(b"[" + b"1," * 600_000 + b"1]", max_bytes=1024 * 1024)
    assert (caught.value.code, caught.value.status_code) == ("request.too_large", 413)


def test_paging_outside_64_bits_is_refused_before_any_query_and_large_limits_are_cut():
    factory = APIRequestFactory()
    view = APIView()
    for query in ("limit=9223372036854775808", "offset=9223372036854775808", "limit=1" + "0" * 30):
        request = view.initialize_request(factory.get(f"/x/?{query}"))
        paginator = LimitOffsetPagination()
        with pytest.raises(InputRefused) as caught:
            paginator.paginate_queryset(License.objects.all(), request)  # no DB: refused first
        assert caught.value.code == "request.number_out_of_range"
    request = view.initialize_request(factory.get("/x/?limit=9223372036854775807&offset=abc"))
    paginator = LimitOffsetPagination()
    assert paginator.get_limit(request) == 1000
    assert paginator.get_offset(request) == 0


def test_a_large_envelope_is_checked_without_a_walk_over_its_data():
    """bench/sync posts envelopes of thousands of events through the guard: depth is read from
    the bytes and numbers by the decoder's hooks, and the parsed data is walked in Python only
    when the bytes hold a `\\u0000` or surrogate escape (measured on a 10 MB envelope of 5,000
    licence events: 111 ms against 97 ms before the guard)."""
    event = {
        "seq": 1,
        "kind": "license.event",
        "key": "410100:1.2.156.3005.2.11100000000000131E001.114101000000100145",
        "payload": {
            "license": {
                "holder": {"name": "郑州豫中食品有限公司", "code": "91410100MA3X7Y8L6U"},
                "surface": {"经营者名称": '郑州"豫中"食品', "经营范围": "预包装食品销售[含冷藏]"},
                "content_digest": "4e5e83bc2c313e211aa5b8303a49d1f19192a825da512fc6e4eada6c7c837a5f",
                "version": 1,
                "pledged": False,
                "sync_deadline": None,
            },
            "event": {"action": "issue", "seq": 1, "data": {"mode": "online"}},
        },
    }
    envelope = {"body": {"events": [copy.deepcopy(event) | {"seq": i} for i in range(5000)]}}
    raw = json.dumps(envelope, ensure_ascii=False).encode()
    with mock.patch.object(parsers, "_bad_string", wraps=parsers._bad_string) as walk:
        assert guarded_json_loads(raw) == envelope
        assert walk.call_count == 0
        # the same envelope with escapes (ensure_ascii) and one lone surrogate: walked, refused
        envelope["body"]["events"][-1]["payload"]["license"]["holder"]["name"] = "\ud800"
        with pytest.raises(InputRefused) as caught:
            guarded_json_loads(json.dumps(envelope).encode())
        assert walk.called
    assert caught.value.detail == {"path": "body.events[4999].payload.license.holder.name"}


# --- through the API ----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/federation/envelopes/", "/api/v1/federation/digests/"])
def test_deep_json_to_an_unauthenticated_exchange_endpoint_is_400(path):
    response = post_raw(APIClient(), path, DEEP)
    if path.endswith("envelopes/"):  # parsed before the signature is read
        assert_refused(response, "request.too_deep")
    else:  # the token is checked first
        assert response.status_code == 401 and set(response.json()) == ERROR_KEYS


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/licenses/",
        "/api/v1/licenses/batches/",
        "/api/v1/catalog/types/",
        "/api/v1/tokens/",
        "/api/v1/share/query/",
        "/api/v1/share/verify/",
        "/api/v1/grants/",
        "/api/v1/bulk-requests/",
        "/api/v1/federation/outbox/retry/",
    ],
)
@pytest.mark.parametrize(
    "raw,code",
    [
        (DEEP, "request.too_deep"),
        (b'{"use_cause": "\\ud800", "name": "\\udfff"}', "request.invalid_unicode"),
        (b'{"ids": [99999999999999999999999], "limit": 1e999}', "request.number_out_of_range"),
    ],
)
def test_bad_json_to_an_authenticated_endpoint_is_400_and_changes_nothing(
    path, raw, code, issuer, admin, license_type
):
    before = (License.objects.count(), OutboxEvent.objects.count())
    client = admin if "federation" in path or path.endswith("types/") else issuer
    assert_refused(post_raw(client, path, raw), code)
    assert (License.objects.count(), OutboxEvent.objects.count()) == before


@pytest.mark.django_db(transaction=True)  # as served: no transaction around the request
def test_a_lone_surrogate_in_a_query_is_refused_and_the_refusal_recorded(consumer_agency):
    """It used to reach the canonical JSON of the refusal's access record: 500, nothing recorded."""
    body = (
        b'{"holder": {"code": "'
        + make_uscc(dept="91", area="410100", body="MA3X7Y8L").encode()
        + b'", "code_type": "001"}, "matter_code": "M0001", "use_cause": "\\ud800"}'
    )
    user = make_user("consumer_surrogate", consumer_agency)  # a name no other test's record has
    refusals = AccessRecord.objects.filter(username=user.username)
    response = post_raw(token_client(user), "/api/v1/share/query/", body)
    assert_refused(response, "request.invalid_unicode")
    assert response.json()["detail"] == {"path": "use_cause"}
    [record] = refusals
    assert (record.operation, record.outcome, record.reason_code, record.use_cause) == (
        "query",
        "refused",
        "request.invalid_unicode",
        "",
    )


@pytest.mark.django_db
def test_a_huge_id_as_a_string_answers_400_not_500(admin):
    """An IntegerField turns "999…" into an int past 64 bits: on PostgreSQL the lookup finds
    nothing; on SQLite it raised OverflowError (500), which the exception handler answers 400."""
    with transaction.atomic():  # SQLite's OverflowError marks the enclosing block for rollback
        response = admin.post(
            "/api/v1/federation/outbox/retry/", {"ids": ["99999999999999999999999"]}, format="json"
        )
    if connection.vendor == "sqlite":
        assert_refused(response, "request.invalid_value")
    else:
        assert response.status_code == 200 and response.json() == {"retried": 0}
    with mock.patch(
        "shared.federation.api.views.relay.outbox_retry",
        side_effect=OverflowError("Python int too large to convert to SQLite INTEGER"),
    ) as retry:
        response = admin.post("/api/v1/federation/outbox/retry/", {"ids": [1]}, format="json")
    assert retry.called
    assert_refused(response, "request.invalid_value")


PAGED_LISTS = [
    "/api/v1/access-log/",
    "/api/v1/audit/",
    "/api/v1/calendar/overrides/",
    "/api/v1/bulk-requests/",
    "/api/v1/catalog/types/",
    "/api/v1/federation/outbox/",
    "/api/v1/federation/reconciliations/",
    "/api/v1/files/",
    "/api/v1/grants/",
    "/api/v1/licenses/",
    "/api/v1/licenses/batches/",
]


@pytest.mark.django_db
@pytest.mark.parametrize("path", PAGED_LISTS)
def test_paging_past_64_bits_is_400_on_every_paged_list(path, admin, issuer, consumer):
    """On SQLite these were slices past 64 bits: OverflowError, 500 (9 endpoints)."""
    served = 0
    for client in (admin, issuer, consumer):
        for query in ("limit=9223372036854775808", "offset=99999999999999999999999"):
            response = client.get(f"{path}?{query}")
            if response.status_code == 403:  # a list this role may not read
                continue
            served += 1
            assert_refused(response, "request.number_out_of_range")
            assert response.json()["detail"]["max"] == INT64_MAX
        assert client.get(f"{path}?limit=5000").status_code in (200, 403)
    assert served


@pytest.mark.django_db
def test_the_schema_documents_400_on_paged_lists(client):
    schema = client.get("/api/schema/?format=json").json()
    assert "400" in schema["paths"]["/api/v1/licenses/"]["get"]["responses"]


# --- DEBUG off: JSON 404 and 500, no URL patterns, no traceback -------------------------------


@pytest.mark.django_db
@override_settings(DEBUG=False)
def test_an_unknown_url_is_a_json_404_that_lists_no_url_patterns():
    client = APIClient()
    for path in ("/api/v1/nope/", "/nope", "/api/v1/licenses/x/y/z/"):
        response = client.get(path)
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        body = response.json()
        assert (body["code"], set(body)) == ("not_found", ERROR_KEYS)
        text = response.content.decode()
        assert "URLconf" not in text and "api/v1/" not in text.replace(path, "")
        assert "admin/" not in text and "healthz" not in text


@pytest.mark.django_db
@override_settings(DEBUG=False)
def test_an_unknown_holder_page_is_a_plain_html_404(client):
    response = client.get("/holder/no/such/page/", HTTP_ACCEPT="text/html")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    text = response.content.decode()
    assert "页面不存在" in text
    assert "URLconf" not in text and "api/v1/" not in text and "admin/" not in text


@pytest.mark.django_db
@override_settings(DEBUG=False)
def test_an_unexpected_exception_is_a_json_500_without_a_traceback(admin):
    admin.raise_request_exception = False
    secret = "/work/main/shared/secret_path.py SECRET_KEY"
    with mock.patch(
        "shared.catalog.api.views.selectors.license_type_list", side_effect=RuntimeError(secret)
    ) as listing:
        response = admin.get("/api/v1/catalog/types/")
    assert listing.called
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "code": "server_error",
        "message": "服务器内部错误，请联系管理员",
        "detail": {},
    }
    text = response.content.decode()
    assert "Traceback" not in text and secret not in text and "RuntimeError" not in text


@pytest.mark.django_db
@override_settings(DEBUG=False, ALLOWED_HOSTS=["testserver"])
def test_django_refusals_outside_drf_are_json_too():
    response = APIClient().get("/healthz", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert (response.json()["code"], set(response.json())) == ("request.bad", ERROR_KEYS)


def test_handlers_outside_drf_answer_the_error_shape():
    request = RequestFactory().get("/admin/x/")
    for handler, status, code in (
        (views.permission_denied, 403, "permission.denied"),
        (views.bad_request, 400, "request.bad"),
        (views.not_found, 404, "not_found"),
    ):
        response = handler(request, Exception("internal detail"))
        assert response.status_code == status
        assert json.loads(response.content)["code"] == code
        assert "internal detail" not in response.content.decode()


def test_every_json_body_goes_through_the_guard(settings):
    """The parser DRF uses for JSON is the guarded one (DRF's own lets a deep body through)."""
    assert settings.REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"][0] == (
        "shared.core.api.parsers.JSONParser"
    )
    request = APIView().initialize_request(
        APIRequestFactory().post("/x/", DEEP, content_type="application/json")
    )
    with pytest.raises(InputRefused):
        request.data  # noqa: B018 - parsing is what is tested


@pytest.mark.django_db
@pytest.mark.parametrize(
    "claims",
    [b"[" * 1500 + b"]" * 1500, b'{"iss": "\\ud800", "aud": "410100"}', b'{"iss": 1e999}'],
)
def test_a_bad_exchange_token_payload_is_401_not_500(claims):
    """The peer endpoints read the token's claims (JSON in base64) before verifying it."""
    payload = base64.urlsafe_b64encode(claims).rstrip(b"=").decode()
    token = f"eyJhbGciOiJTTTIifQ.{payload}.c2ln"
    assert len(token) <= 4096
    response = APIClient().post(
        "/api/v1/federation/digests/", {}, format="json", HTTP_X_EXCHANGE_TOKEN=token
    )
    assert response.status_code == 401, response.content[:200]
    assert response.json()["code"] == "exchange.bad_token"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "metadata,code",
    [
        ("[" * 5000 + "]" * 5000, "request.too_deep"),
        ('{"number": "\\ud800"}', "request.invalid_unicode"),
        ('{"valid_days": 99999999999999999999999}', "request.number_out_of_range"),
    ],
)
def test_json_inside_a_form_field_goes_through_the_guard_too(metadata, code, issuer):
    """The legacy upload carries its metadata as a JSON string in a multipart field."""
    scan = SimpleUploadedFile("scan.png", b"\x89PNG\r\n\x1a\n", content_type="image/png")
    response = issuer.post(
        "/api/v1/files/legacy/", {"scan": scan, "metadata": metadata}, format="multipart"
    )
    assert_refused(response, code)
