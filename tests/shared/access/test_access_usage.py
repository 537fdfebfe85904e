"""Issuers see who used their licences, when, for which matter and why (art. 27)."""

import csv
import io

import pytest

from tests.shared.access.conftest import grant, issue

pytestmark = pytest.mark.django_db


@pytest.fixture
def used(consumer, granted_consumer, licence, query_body, other_issuer_user, consumer_agency):
    from tests.support import make_type

    foreign_type = make_type(other_issuer_user, seq=5, requires_review=False)
    issue(other_issuer_user, foreign_type, number="JT1")  # same holder, another issuer
    grant(consumer_agency, foreign_type)
    assert consumer.post("/api/v1/share/query/", query_body(), format="json").json()["count"] == 2
    consumer.post("/api/v1/share/query/", query_body(use_cause=""), format="json")  # refused
    return licence


def test_issuer_sees_only_uses_of_its_own_licences(issuer, other_issuer, used, consumer_agency):
    body = issuer.get("/api/v1/access-log/").json()
    [row] = body["results"]
    assert (row["identifier"], row["agency_code"], row["agency_name"]) == (
        used.identifier,
        consumer_agency.code,
        "政务服务中心",
    )
    assert (row["matter_code"], row["use_cause"], row["operation"], row["outcome"]) == (
        "M0001",
        "办理食品经营许可变更，核验原证",
        "query",
        "allowed",
    )
    assert row["username"] == "consumer_1"
    assert "holder_digest" not in row
    others = other_issuer.get("/api/v1/access-log/").json()["results"]
    assert [r["issuer_code"] for r in others] == [others[0]["issuer_code"]]
    assert others[0]["identifier"] != used.identifier


def test_consumer_sees_its_own_uses_and_refusals_admin_sees_all(consumer, admin, used):
    own = consumer.get("/api/v1/access-log/").json()["results"]
    assert sorted(r["outcome"] for r in own) == ["allowed", "allowed", "refused"]
    assert admin.get("/api/v1/access-log/").json()["count"] >= 3


def test_filters(issuer, used):
    assert issuer.get("/api/v1/access-log/?matter_code=M0001").json()["count"] == 1
    assert issuer.get("/api/v1/access-log/?matter_code=M0002").json()["count"] == 0
    assert issuer.get("/api/v1/access-log/?outcome=refused").json()["count"] == 0
    assert issuer.get("/api/v1/access-log/?since=2999-01-01T00:00:00Z").json()["count"] == 0
    bad = issuer.get("/api/v1/access-log/?since=yesterday")
    assert (bad.status_code, bad.json()["code"]) == (400, "validation_error")


def test_csv_export(issuer, used):
    response = issuer.get("/api/v1/access-log/export/?operation=query")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:4] == ["链上序号", "时间", "用证单位代码", "用证单位"]
    assert len(rows) == 2
    assert rows[1][10] == used.identifier
    assert rows[1][9] == "办理食品经营许可变更，核验原证"


def test_holder_and_anonymous_see_nothing(anon, used):
    response = anon.get("/api/v1/access-log/")
    assert response.status_code == 401
    assert set(response.json()) == {"code", "message", "detail"}
