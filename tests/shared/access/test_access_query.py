"""Grants and the purpose-bound query (arts. 19–22, 30): only the holder and matter in hand,
only granted types, every use and every refusal recorded before the answer leaves."""

import pytest
from django.db import transaction
from django.test import override_settings

from shared.access import ratelimit
from shared.access.models import AccessRecord, Grant
from shared.access.services import access_record, use_authorize
from shared.core.errors import ForbiddenError
from shared.core.holder_codes import holder_code_digest
from tests.shared.access.conftest import MATTER, grant, issue
from tests.support import make_type, make_uscc

pytestmark = pytest.mark.django_db
ERROR_KEYS = {"code", "message", "detail"}


def records(**filters):
    return list(AccessRecord.objects.filter(**filters).order_by("id"))


def test_granted_consumer_finds_the_holders_licence_and_the_use_is_recorded(
    consumer, granted_consumer, licence, query_body, holder_code
):
    # when
    response = consumer.post("/api/v1/share/query/", query_body(), format="json")
    # then
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["count"] == 1
    assert body["library_code"] == "410100"
    result = body["results"][0]
    assert (result["identifier"], result["library_code"]) == (licence.identifier, "410100")
    assert result["holder"] == {
        "name": "郑州豫中食品有限公司",
        "code": holder_code,
        "code_type": "001",
    }
    [record] = records(request_id=body["request_id"])
    assert (record.operation, record.outcome) == ("query", "allowed")
    assert (record.username, record.agency_code) == ("consumer_1", granted_consumer.code)
    assert (record.matter_code, record.use_cause) == (MATTER, "办理食品经营许可变更，核验原证")
    assert (record.identifier, record.issuer_code) == (licence.identifier, licence.issuer.code)
    assert record.holder_digest == holder_code_digest(holder_code)
    assert holder_code not in str(AccessRecord.objects.values().get(pk=record.pk))
    assert len(record.leaf_hash) == 64


def test_consumer_without_grant_is_refused_and_the_refusal_recorded(
    consumer, consumer_agency, licence, query_body
):
    response = consumer.post("/api/v1/share/query/", query_body(), format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "access.no_grant"
    assert set(response.json()) == ERROR_KEYS
    assert licence.identifier not in response.content.decode()
    [record] = records(agency_code=consumer_agency.code)
    assert (record.outcome, record.reason_code, record.identifier) == (
        "refused",
        "access.no_grant",
        "",
    )


def test_grant_for_another_matter_does_not_cover_this_one(
    consumer, consumer_agency, license_type, licence, query_body
):
    grant(consumer_agency, license_type, matter="M9999")
    response = consumer.post("/api/v1/share/query/", query_body(), format="json")
    assert (response.status_code, response.json()["code"]) == (403, "access.no_grant")


def test_revoked_or_expired_grants_do_not_count(
    consumer, consumer_agency, license_type, licence, query_body
):
    from datetime import timedelta

    from django.utils import timezone

    grant(consumer_agency, license_type, revoked_at=timezone.now())
    g = grant(consumer_agency, license_type)
    Grant.objects.filter(pk=g.pk).update(
        valid_from=timezone.localdate() - timedelta(days=10),
        valid_to=timezone.localdate() - timedelta(days=1),
    )
    response = consumer.post("/api/v1/share/query/", query_body(), format="json")
    assert (response.status_code, response.json()["code"]) == (403, "access.no_grant")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"use_cause": ""}, "use_cause"),
        ({"use_cause": "查" * 201}, "use_cause"),
        ({"matter_code": ""}, "matter_code"),
        ({"holder": {"code": "", "code_type": "001"}}, "holder"),
    ],
)
def test_query_without_holder_matter_or_purpose_is_refused_and_recorded(
    consumer, granted_consumer, licence, query_body, change, field
):
    response = consumer.post("/api/v1/share/query/", query_body(**change), format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert field in response.json()["detail"]
    [record] = records(agency_code=granted_consumer.code)
    assert (record.outcome, record.reason_code) == ("refused", "validation_error")


def test_listing_is_impossible_there_is_no_such_call(consumer, granted_consumer, licence):
    assert consumer.get("/api/v1/share/query/").status_code == 405
    assert consumer.get("/api/v1/licenses/").json()["results"] == []


def test_none_and_not_granted_look_the_same(
    consumer, consumer_agency, issuer_user, licence, query_body
):
    # given: a licence of a type the consumer holds no grant for, for the same holder
    other_type = make_type(issuer_user, seq=7, requires_review=False, name="其他许可证")
    grant(consumer_agency, other_type)
    # when: asking for the holder who has only the ungranted licence, and for nobody
    granted_only_other = consumer.post("/api/v1/share/query/", query_body(), format="json")
    nobody = consumer.post(
        "/api/v1/share/query/",
        query_body(
            holder={
                "code": make_uscc(dept="91", area="410100", body="MA9Y9Y9Y"),
                "code_type": "001",
            }
        ),
        format="json",
    )
    # then
    for response in (granted_only_other, nobody):
        assert response.status_code == 200
        body = response.json()
        assert (body["count"], body["results"]) == (0, [])
        assert set(body) == {
            "request_id",
            "library_code",
            "count",
            "results",
            "sector_results",
            "unavailable_libraries",
        }
        assert (body["sector_results"], body["unavailable_libraries"]) == ([], [])
    assert [r.outcome for r in records(operation="query")] == ["none", "none"]


def test_unknown_type_is_refused_like_an_ungranted_one(
    consumer, granted_consumer, licence, query_body, issuer_user
):
    ungranted = make_type(issuer_user, seq=8, requires_review=False)
    unknown = consumer.post("/api/v1/share/query/", query_body(type_code="X" * 21), format="json")
    not_granted = consumer.post(
        "/api/v1/share/query/", query_body(type_code=ungranted.type_code), format="json"
    )
    assert unknown.status_code == not_granted.status_code == 403
    assert unknown.json() == not_granted.json()


class FixedClock:
    """The limiter's clock stopped 10 s into a minute, so every call counts in one window."""

    def __init__(self):
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return 1_800_000_010.0  # 10 s past a minute's start


@pytest.fixture
def one_window(monkeypatch):
    fixed = FixedClock()
    monkeypatch.setattr(ratelimit, "clock", fixed)
    return fixed


@override_settings(ACCESS_MISS_PER_MINUTE=5)
def test_guessing_holder_codes_trips_the_rate_limit(
    consumer, granted_consumer, query_body, one_window
):
    statuses = []
    for i in range(8):
        guess = make_uscc(dept="91", area="410100", body=f"MG{i:06d}")
        response = consumer.post(
            "/api/v1/share/query/",
            query_body(holder={"code": guess, "code_type": "001"}),
            format="json",
        )
        statuses.append(response.status_code)
    assert statuses == [200] * 5 + [429] * 3
    assert response.json()["code"] == "rate_limited"
    assert response.json()["detail"]["retry_after_seconds"] == 50  # the rest of the minute
    assert [r.outcome for r in records(operation="query")][-3:] == ["refused"] * 3
    assert records(operation="query")[-1].reason_code == "rate_limited"
    assert one_window.calls >= 8  # every call was counted on the fixed clock


@override_settings(ACCESS_RATE_PER_MINUTE=3)
def test_rate_limit_is_per_agency(
    consumer, second_consumer, granted_consumer, query_body, one_window
):
    for _ in range(3):
        assert consumer.post("/api/v1/share/query/", query_body(), format="json").status_code == 200
    assert consumer.post("/api/v1/share/query/", query_body(), format="json").status_code == 429
    # another agency has its own budget (refused for lack of a grant, not for the rate)
    other = second_consumer.post("/api/v1/share/query/", query_body(), format="json")
    assert other.json()["code"] == "access.no_grant"
    assert one_window.calls >= 5


def test_refusal_is_recorded_even_when_the_callers_transaction_rolls_back(
    consumer_user, license_type
):
    with pytest.raises(ForbiddenError) as caught, transaction.atomic():
        use_authorize(
            user=consumer_user,
            license_type=license_type,
            matter_code=MATTER,
            use_cause="核验",
            operation="verify",
        )
    assert caught.value.code == "access.no_grant"
    [record] = records(operation="verify")
    assert (record.outcome, record.reason_code, record.username) == (
        "refused",
        "access.no_grant",
        "consumer_1",
    )


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"use_cause": ""}, "access.purpose_required"),
        ({"use_cause": "x" * 201}, "access.purpose_too_long"),
        ({"matter_code": " "}, "access.matter_required"),
    ],
)
def test_use_authorize_codes(consumer_user, granted_consumer, license_type, kwargs, code):
    arguments = {
        "user": consumer_user,
        "license_type": license_type,
        "matter_code": MATTER,
        "use_cause": "核验",
        "operation": "compare",
    } | kwargs
    with pytest.raises(ForbiddenError) as caught:
        use_authorize(**arguments)
    assert caught.value.code == code
    assert records(operation="compare")[0].reason_code == code


def test_use_authorize_returns_the_grant(consumer_user, granted_consumer, license_type):
    found = use_authorize(
        user=consumer_user,
        license_type=license_type,
        matter_code=MATTER,
        use_cause="核验营业执照",
        operation="verify",
        holder_code="91410100MA3X7Y8L0X",
        holder_code_type="001",
    )
    assert (found.agency_id, found.license_type_id) == (granted_consumer.pk, license_type.pk)
    assert records() == []  # authorising is not yet a use: the caller records the use


def test_issuer_and_admin_cannot_query_without_a_grant(issuer, admin, licence, query_body):
    for client in (issuer, admin):
        response = client.post("/api/v1/share/query/", query_body(), format="json")
        assert (response.status_code, response.json()["code"]) == (403, "access.not_consumer")


def test_access_record_one_row_per_licence(consumer_user, licence, issuer_user, license_type):
    second = issue(issuer_user, license_type, number="JY2")
    first = access_record(
        user=consumer_user,
        operation="copy",
        matter_code=MATTER,
        use_cause="加注件",
        licenses=[licence, second],
        outcome="allowed",
    )
    rows = records(request_id=first.request_id)
    assert [r.identifier for r in rows] == [licence.identifier, second.identifier]


def test_grants_api(admin, consumer, granted_consumer, consumer_agency, license_type, issuer):
    created = admin.post(
        "/api/v1/grants/",
        {
            "agency_code": consumer_agency.code,
            "type_code": license_type.type_code,
            "matter_code": "M0002",
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert created.json()["tier"] == "city"
    assert created.json()["active"] is True
    duplicate = admin.post(
        "/api/v1/grants/",
        {
            "agency_code": consumer_agency.code,
            "type_code": license_type.type_code,
            "matter_code": "M0002",
        },
        format="json",
    )
    assert (duplicate.status_code, duplicate.json()["code"]) == (409, "grant.exists")
    own = consumer.get("/api/v1/grants/").json()["results"]
    assert sorted(g["matter_code"] for g in own) == ["M0001", "M0002"]
    assert consumer.post("/api/v1/grants/", {}, format="json").status_code == 400
    refused = consumer.post(
        "/api/v1/grants/",
        {
            "agency_code": consumer_agency.code,
            "type_code": license_type.type_code,
            "matter_code": "M3",
        },
        format="json",
    )
    assert (refused.status_code, refused.json()["code"]) == (
        403,
        "permission.library_admin_required",
    )
    assert issuer.get("/api/v1/grants/").json()["results"] == []
    revoked = admin.post(f"/api/v1/grants/{created.json()['id']}/revoke/")
    assert revoked.status_code == 200
    assert revoked.json()["active"] is False
    assert admin.post("/api/v1/grants/999999/revoke/").status_code == 404


def test_a_query_costs_the_same_queries_whatever_the_number_of_grants(
    consumer, consumer_agency, issuer_user, license_type, licence, query_body
):
    # given: one grant, then three more types granted for the same matter
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    grant(consumer_agency, license_type)
    consumer.post("/api/v1/share/query/", query_body(), format="json")  # the token's last use
    with CaptureQueriesContext(connection) as one:
        assert consumer.post("/api/v1/share/query/", query_body(), format="json").json()["count"]
    for seq in (21, 22, 23):
        grant(consumer_agency, make_type(issuer_user, seq=seq, requires_review=False))
    # when
    with CaptureQueriesContext(connection) as four:
        assert consumer.post("/api/v1/share/query/", query_body(), format="json").json()["count"]
    # then: the granted types come with the grants (no query per grant)
    assert len(four.captured_queries) == len(one.captured_queries)
