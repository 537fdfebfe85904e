"""GET /api/v1/statistics/ and export.csv: the month's counters, scoped to the caller."""

import csv
import io

import pytest
from django.utils import timezone

from shared.statistics.rollup import statistics_rollup
from tests.shared.access.conftest import MATTER, grant
from tests.shared.statistics.conftest import act
from tests.support import make_agency, make_type, make_user, token_client

pytestmark = pytest.mark.django_db


def this_month():
    return f"{timezone.localdate():%Y-%m}"


@pytest.fixture
def world(issuer, issued, consumer, consumer_agency, license_type, holder_code, other_issuer_user):
    """Two licences of the issuer (one suspended), one of another agency, one query."""
    first, _ = issued(2)
    act(issuer, first, "suspend", reason="暂扣")
    other_type = make_type(other_issuer_user, seq=5, requires_review=False)
    other = token_client(other_issuer_user)
    response = other.post(
        "/api/v1/licenses/",
        {
            **_payload(issuer, other_type),
            "number": "JT000001",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    grant(consumer_agency, license_type)
    query = {
        "holder": {"code": holder_code, "code_type": "001"},
        "matter_code": MATTER,
        "use_cause": "核验原证",
    }
    assert consumer.post("/api/v1/share/query/", query, format="json").status_code == 200
    statistics_rollup()


def _payload(issuer, license_type):
    from tests.support import make_uscc

    today = timezone.localdate()
    return {
        "type_code": license_type.type_code,
        "holder": {
            "name": "洛阳运输有限公司",
            "code": make_uscc(dept="91", area="410300", body="MA4X7Y8L"),
            "code_type": "001",
        },
        "valid_from": today.isoformat(),
        "valid_to": today.replace(year=today.year + 1).isoformat(),
        "mode": "online",
        "case_completed_at": timezone.now().isoformat(),
        "matter_code": "M0001",
        "surface": {"经营者名称": "洛阳运输有限公司"},
    }


def test_the_library_admin_sees_every_agency_by_agency(
    admin, world, issuer_agency, other_issuer_agency
):
    response = admin.get("/api/v1/statistics/", {"month": this_month(), "by": "agency"})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["by"], body["scope"], body["library_code"]) == ("agency", "library", "410100")
    rows = {r["key"]: r for r in body["rows"]}
    assert set(rows) == {issuer_agency.code, other_issuer_agency.code}
    mine = rows[issuer_agency.code]
    assert mine["name"] == "市场监督管理局"
    assert (mine["metrics"]["issue"], mine["metrics"]["suspend"], mine["metrics"]["query"]) == (
        2,
        1,
        2,
    )
    assert rows[other_issuer_agency.code]["metrics"]["issue"] == 1
    assert body["totals"]["issue"] == 3
    codes = [m["code"] for m in body["metrics"]]
    assert codes[:2] == ["issue", "approve"] and "arrival_late" in codes
    assert set(mine["metrics"]) == set(codes)
    assert body["rolled_up_at"] is not None


def test_by_city_consumer_matter_and_type(admin, world, consumer_agency, license_type):
    month = this_month()
    city = admin.get("/api/v1/statistics/", {"month": month}).json()
    assert [(r["key"], r["name"]) for r in city["rows"]] == [("410100", "郑州市")]
    consumer = admin.get("/api/v1/statistics/", {"month": month, "by": "consumer"}).json()
    used = {r["key"]: r["metrics"]["query"] for r in consumer["rows"]}
    assert used == {"": 0, consumer_agency.code: 2}
    matter = admin.get("/api/v1/statistics/", {"month": month, "by": "matter"}).json()
    assert {r["key"]: r["name"] for r in matter["rows"]} == {
        "": "（不涉及）",
        MATTER: "食品经营许可",
    }
    typed = admin.get(
        "/api/v1/statistics/", {"month": month, "by": "type", "type": license_type.type_code}
    ).json()
    assert [(r["key"], r["metrics"]["issue"]) for r in typed["rows"]] == [
        (license_type.type_code, 2)
    ]
    assert typed["filters"] == {"type": license_type.type_code}


def test_another_month_is_empty(admin, world):
    body = admin.get("/api/v1/statistics/", {"month": "2020-01"}).json()
    assert body["rows"] == [] and set(body["totals"].values()) == {0}


def test_an_agency_admin_sees_only_its_own_agency(
    issuer_admin, world, issuer_agency, other_issuer_agency
):
    # when: even asking for the other agency
    own = issuer_admin.get("/api/v1/statistics/", {"month": this_month(), "by": "agency"}).json()
    other = issuer_admin.get(
        "/api/v1/statistics/", {"month": this_month(), "agency": other_issuer_agency.code}
    ).json()
    # then
    assert own["scope"] == "agency"
    assert [r["key"] for r in own["rows"]] == [issuer_agency.code]
    assert own["totals"]["issue"] == 2
    assert other["rows"] == []


def test_a_consumer_agency_admin_sees_its_own_uses(world, consumer_agency):
    client = token_client(make_user("consumer_admin", consumer_agency, role="agency_admin"))
    body = client.get("/api/v1/statistics/", {"month": this_month(), "by": "consumer"}).json()
    assert [(r["key"], r["metrics"]["query"]) for r in body["rows"]] == [(consumer_agency.code, 2)]
    assert body["totals"]["issue"] == 0


def test_the_supervisor_sees_everything(supervisor, world):
    body = supervisor.get("/api/v1/statistics/", {"month": this_month()}).json()
    assert body["scope"] == "library" and body["totals"]["issue"] == 3


@pytest.mark.parametrize("who", ["issuer", "consumer"])
def test_staff_are_refused(request, world, who):
    client = request.getfixturevalue(who)
    for path in ("/api/v1/statistics/", "/api/v1/statistics/export.csv"):
        response = client.get(path)
        assert response.status_code == 403
        assert response.json()["code"] == "statistics.forbidden"


def test_anonymous_is_refused(anon):
    response = anon.get("/api/v1/statistics/")
    assert (response.status_code, response.json()["code"]) == (401, "auth.required")


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"month": "2026-13"}, "statistics.month_invalid"),
        ({"month": "2026-1"}, "statistics.month_invalid"),
        ({"month": "２０２６-１１"}, "statistics.month_invalid"),
        ({"month": "0000-01"}, "statistics.month_invalid"),
        ({"by": "holder"}, "statistics.by_invalid"),
        ({"city": "41010"}, "statistics.filter_invalid"),
        ({"agency": "'; drop table"}, "statistics.filter_invalid"),
        ({"type": "x" * 30}, "statistics.filter_invalid"),
    ],
)
def test_bad_parameters_answer_400_with_a_code(admin, params, code):
    for path in ("/api/v1/statistics/", "/api/v1/statistics/export.csv"):
        response = admin.get(path, params)
        assert response.status_code == 400
        body = response.json()
        assert (body["code"], set(body)) == (code, {"code", "message", "detail"})


def test_the_csv_export_neutralises_formulas(admin, issuer_user, license_type, issuer_agency):
    # given: an agency whose name a spreadsheet would run as a formula
    from shared.licenses.models import License
    from shared.statistics.models import Counter

    issuer_agency.name = '=HYPERLINK("http://evil.example","点我")'
    issuer_agency.save()
    Counter.objects.create(
        month=timezone.localdate().replace(day=1),
        library_code="410100",
        agency_code=issuer_agency.code,
        type_code=license_type.type_code,
        metric="issue",
        count=7,
    )
    # when
    response = admin.get("/api/v1/statistics/export.csv", {"by": "agency"})
    # then
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert f"statistics-410100-{this_month()}-agency.csv" in response["Content-Disposition"]
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    header = rows[0]
    assert header[:5] == ["月份", "维度", "代码", "名称", "签发"]
    assert rows[1][:5] == [
        this_month(),
        "签发单位",
        issuer_agency.code,
        "'" + issuer_agency.name,
        "7",
    ]
    assert rows[-1][:5] == [this_month(), "签发单位", "合计", "", "7"]
    assert len({len(r) for r in rows}) == 1
    assert not License.objects.exists()


def test_the_endpoints_are_in_the_openapi_schema(admin):
    schema = admin.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    for path in ("/api/v1/statistics/", "/api/v1/statistics/export.csv"):
        operation = schema["paths"][path]["get"]
        assert {p["name"] for p in operation["parameters"]} >= {
            "month",
            "by",
            "city",
            "agency",
            "type",
        }
        assert {"200", "400", "401", "403"} <= set(operation["responses"])
    assert (
        "text/csv"
        in schema["paths"]["/api/v1/statistics/export.csv"]["get"]["responses"]["200"]["content"]
    )


def test_a_new_type_of_another_city_agency_shows_under_its_library(admin):
    # the counters, not the licences, decide the rows: a row of another library (at the hub
    # every city's) is shown with the city's name
    from shared.statistics.models import Counter

    agency = make_agency("洛阳市市场监督管理局", body="00003001", area="410300", is_issuer=True)
    Counter.objects.create(
        month=timezone.localdate().replace(day=1),
        library_code="410300",
        agency_code=agency.code,
        type_code="X" * 21,
        metric="renew",
        count=4,
    )
    body = admin.get("/api/v1/statistics/").json()
    assert [(r["key"], r["name"], r["metrics"]["renew"]) for r in body["rows"]] == [
        ("410300", "洛阳市", 4)
    ]
