"""Issue #13 at the hub: a city's forwarded query and verify (signed by the city's key, posted to
`/api/v1/exchange/share/…` as the node's forwarder does), the grant rule (province grants; a
carried city grant for the city's own and the provincial types only), and the hub's records about
a city's licence going down that city's stream, once, when they are chained."""

import json
import time

import pytest
from django.utils import timezone

from provincial_hub.aggregation import usage
from shared.access import log
from shared.access.models import AccessRecord, Grant
from shared.crypto.suites import get_suite
from shared.crypto.tokens import sign_token
from shared.federation.auth import body_digest
from shared.federation.keys import peer_register
from shared.federation.models import OutboxEvent
from shared.licenses.models import License
from tests.shared.access.conftest import MATTER, issue
from tests.support import make_agency, make_type, make_uscc, make_user

pytestmark = pytest.mark.django_db

LY, HUB = "410300", "410000"
QUERY, VERIFY = "/api/v1/exchange/share/query/", "/api/v1/exchange/share/verify/"
CAUSE = "办理食品经营许可跨市变更，核验原证"


class City:
    """A city's exchange key, registered at the hub as that city's peer."""

    def __init__(self, code):
        self.code = code
        self.suite = get_suite("gm")
        self.key = self.suite.generate_key()
        public = self.suite.public_key_of(self.key)
        self.kid = self.suite.key_id(public)
        peer_register(
            code=code,
            kid=self.kid,
            public_key_pem=self.suite.public_key_to_pem(public).decode(),
            base_url="http://127.0.0.1:9",
        )

    def post(self, client, path, data):
        body = json.dumps(data, ensure_ascii=False).encode()
        now = int(time.time())
        claims = {
            "iss": self.code,
            "aud": HUB,
            "iat": now,
            "exp": now + 120,
            "htm": "POST",
            "htu": path,
            "bdh": body_digest(body),
        }
        token = sign_token(suite=self.suite, key=self.key, kid=self.kid, claims=claims)
        return client.generic(
            "POST", path, body, content_type="application/json", HTTP_X_EXCHANGE_TOKEN=token
        )


@pytest.fixture
def luoyang(db):
    return City(LY)


@pytest.fixture
def ly_agency():
    """洛阳's consumer agency as the node describes it (not held at the hub unless a test
    creates it for a province grant)."""
    return {
        "code": make_uscc(dept="11", area="410300", body="00002009"),
        "name": "洛阳市政务服务中心",
        "level": "city",
        "area_code": "410300",
        "is_consumer": True,
    }


@pytest.fixture
def zz_licence(issuer_user, license_type):
    """A 郑州 licence at the hub (its type's issuer is a 郑州 agency: area 410100)."""
    lic = issue(issuer_user, license_type)
    License.objects.filter(pk=lic.pk).update(library_code="410100")
    return License.objects.get(pk=lic.pk)


def query_body(agency, holder_code, *, city_grants=(), **extra):
    return {
        "agency": agency,
        "user": {"username": "c410300_zwzx_1", "ref": 7},
        "city_grants": list(city_grants),
        "holder": {"code": holder_code, "code_type": "001"},
        "matter_code": MATTER,
        "use_cause": CAUSE,
        **extra,
    }


def province_grant(agency_doc, license_type):
    agency = make_agency(agency_doc["name"], body="00002009", area="410300", is_consumer=True)
    assert agency.code == agency_doc["code"]
    return Grant.objects.create(
        agency=agency,
        license_type=license_type,
        matter_code=MATTER,
        tier=Grant.Tier.PROVINCE,
        valid_from=timezone.localdate(),
    )


def test_a_province_grant_answers_a_forwarded_query_from_the_aggregate(
    anon, luoyang, ly_agency, zz_licence, license_type, holder_code
):
    # given: the hub's operator granted 洛阳's consumer province-wide on 郑州's type
    province_grant(ly_agency, license_type)
    # when
    response = luoyang.post(anon, QUERY, query_body(ly_agency, holder_code))
    # then
    assert response.status_code == 200, response.json()
    body = response.json()
    assert [(r["identifier"], r["library_code"]) for r in body["results"]] == [
        (zz_licence.identifier, "410100")
    ]
    assert body["record"]["outcome"] == "allowed"
    record = AccessRecord.objects.get(request_id=body["request_id"])
    assert (record.agency_code, record.username, record.source_library) == (
        ly_agency["code"],
        "c410300_zwzx_1（410300）",
        "410100",
    )
    assert record.detail == {"forwarded_by": LY, "user_ref": 7}


@pytest.mark.parametrize(
    ("issuer_area", "honoured"),
    [("410300", True), ("410000", True), ("410100", False)],
    ids=["own-city-type", "provincial-type", "other-city-type"],
)
def test_a_carried_city_grant_is_honoured_for_own_and_provincial_types_only(
    anon, luoyang, ly_agency, holder_code, issuer_area, honoured
):
    # given: a licence of a type issued by an agency of `issuer_area`; no province grant
    issuer = make_agency("某发证机关", body="00009001", area=issuer_area, is_issuer=True)
    if issuer_area == "410000":
        issuer.level = "province"
        issuer.save(update_fields=["level"])
    user = make_user("issuer_x", issuer)
    own_type = make_type(user, seq=5, requires_review=False)
    lic = issue(user, own_type)
    # when: 洛阳 carries its consumer's city grant for that type and matter
    response = luoyang.post(
        anon, QUERY, query_body(ly_agency, holder_code, city_grants=[own_type.type_code])
    )
    # then
    if honoured:
        assert response.status_code == 200, response.json()
        assert [r["identifier"] for r in response.json()["results"]] == [lic.identifier]
    else:  # another city's type needs a province grant: refused as a local call is
        assert response.status_code == 403
        assert response.json()["code"] == "access.no_grant"
        refused = AccessRecord.objects.get(reason_code="access.no_grant")
        assert (refused.agency_code, refused.outcome) == (ly_agency["code"], "refused")


def test_a_city_speaks_only_for_its_own_agencies(anon, luoyang, ly_agency, holder_code):
    # when: 洛阳 forwards a call naming an agency of 郑州
    zz_agency = ly_agency | {
        "code": make_uscc(dept="11", area="410100", body="00002009"),
        "area_code": "410102",
    }
    response = luoyang.post(anon, QUERY, query_body(zz_agency, holder_code))
    # then
    assert response.status_code == 403
    assert response.json()["code"] == "federation.not_owner"
    assert not AccessRecord.objects.exists()


def test_an_unsigned_call_is_refused(anon, ly_agency, holder_code):
    response = anon.post(QUERY, query_body(ly_agency, holder_code), format="json")
    assert response.status_code == 401
    assert response.json()["code"] == "exchange.auth_required"
    assert not AccessRecord.objects.exists()


def test_the_caller_checks_of_a_local_call_apply(anon, luoyang, ly_agency, holder_code):
    response = luoyang.post(
        anon, QUERY, query_body(ly_agency | {"is_consumer": False}, holder_code)
    )
    assert (response.status_code, response.json()["code"]) == (403, "access.not_consumer")
    assert AccessRecord.objects.get().reason_code == "access.not_consumer"


def test_a_forwarded_verify_answers_and_records_like_a_local_one(
    anon, luoyang, ly_agency, zz_licence, license_type, issuer_user
):
    # given: a province grant on 郑州's type, and a 郑州 licence of a type not granted
    province_grant(ly_agency, license_type)
    other_type = make_type(issuer_user, seq=8, requires_review=False, name="其他许可证")
    other = issue(issuer_user, other_type, number="JY2")
    License.objects.filter(pk=other.pk).update(library_code="410100")
    base = {
        "agency": ly_agency,
        "user": {"username": "c410300_zwzx_1", "ref": 7},
        "city_grants": [],
        "matter_code": MATTER,
        "use_cause": CAUSE,
    }
    # when
    granted = luoyang.post(anon, VERIFY, base | {"identifier": zz_licence.identifier})
    outside = luoyang.post(anon, VERIFY, base | {"identifier": other.identifier})
    # then: 信息正确且有效; outside the grants: 查无此信息, recorded as refused
    assert granted.status_code == 200, granted.json()
    assert granted.json()["info_result"]["code"] == 0
    assert granted.json()["license"]["identifier"] == zz_licence.identifier
    assert outside.json()["info_result"]["code"] == 5
    assert outside.json()["license"] is None
    assert outside.json()["record"]["outcome"] == "refused"
    rows = dict(
        AccessRecord.objects.filter(operation="verify").values_list("identifier", "outcome")
    )
    assert rows == {zz_licence.identifier: "allowed", other.identifier: "refused"}


def test_records_about_a_citys_licence_go_down_its_stream_once(
    luoyang, zz_licence, consumer_user, issuer_user, license_type
):
    # given: 郑州 is a registered city; records about its licence and about a hub licence
    City("410100")
    hub_licence = issue(issuer_user, license_type, number="HUB1")
    for lic in (zz_licence, hub_licence):
        log.log_append(
            [
                AccessRecord(
                    library_code=HUB,
                    occurred_at=timezone.now(),
                    username=consumer_user.username,
                    agency_code=consumer_user.agency.code,
                    operation="verify",
                    outcome="allowed",
                    matter_code=MATTER,
                    use_cause=CAUSE,
                    identifier=lic.identifier,
                    type_code=license_type.type_code,
                    issuer_code=lic.issuer.code,
                    source_library=lic.library_code,
                )
            ]
        )
    # when: the sequencer chains them, and runs again
    assert log.log_sequence() == 2
    assert log.log_sequence() == 0
    # then: one access.record on 郑州's stream, carrying the chained record
    events = list(OutboxEvent.objects.filter(kind=usage.KIND))
    assert [(e.stream, e.key) for e in events] == [
        ("410100", str(AccessRecord.objects.get(identifier=zz_licence.identifier).pk))
    ]
    record = events[0].payload["record"]
    held = AccessRecord.objects.get(identifier=zz_licence.identifier)
    assert (record["seq"], record["leaf_hash"], record["source_library"]) == (
        held.seq,
        held.leaf_hash,
        "410100",
    )
