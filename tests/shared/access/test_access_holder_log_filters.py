""" "Who used my licence" for a holder (issue #14 item 2): filtered by licence, operation, agency
and a date range, paginated, and exported as CSV (UTF-8 with BOM) with exactly the filtered
rows; the export is itself an access record; a bad filter is a 400 in Chinese, nothing read."""

import csv
import io
import re
from datetime import datetime, time, timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from shared.access.models import AccessRecord
from shared.access.portal import holder_create
from shared.access.services import access_record
from tests.shared.access.conftest import issue
from tests.shared.access.test_access_holder_portal import KEY, sign_in
from tests.support import make_agency, make_user

pytestmark = pytest.mark.django_db
ROW = re.compile(r'<tr><td data-label="时间"')


@pytest.fixture
def holder(holder_code):
    user, _ = holder_create(
        username="holder_yuzhong",
        password="Holder-12345",
        display_name="郑州豫中食品有限公司",
        holder_code=holder_code,
        holder_code_type="001",
        totp_key=KEY,
    )
    return user


@pytest.fixture
def client(holder):
    client = Client()
    assert sign_in(client).status_code == 302
    return client


def at(days_ago: int):
    """Noon, `days_ago` days before today, Beijing time."""
    day = timezone.localdate() - timedelta(days=days_ago)
    return datetime.combine(day, time(12), tzinfo=timezone.get_current_timezone())


@pytest.fixture
def log(holder, issuer_user, license_type, consumer_user):
    """Four uses of the holder's two licences on three days, and one of another's licence."""
    first = issue(issuer_user, license_type)
    second = issue(issuer_user, license_type, number="JY2")
    foreign = issue(issuer_user, license_type, holder_body="MA5X5Y5L", number="X1", name="别家")
    estate = make_user("estate_1", make_agency("不动产登记中心", body="00002002", is_consumer=True))

    def use(user, operation, lic, days_ago, cause="办理业务"):
        with time_machine.travel(at(days_ago), tick=False):
            access_record(
                user=user,
                operation=operation,
                matter_code="M0001",
                use_cause=cause,
                licenses=[lic],
                outcome="allowed",
            )

    use(consumer_user, "query", first, 3, cause="=HYPERLINK(1)")  # a formula stays text
    use(estate, "verify", second, 1)
    use(consumer_user, "compare", first, 1)
    use(holder, "download", second, 0)
    use(consumer_user, "query", foreign, 0)
    return first, second, foreign


def rows(response):
    return len(ROW.findall(response.content.decode()))


def exported(response):
    body = response.content
    assert body.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel reads the Chinese
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_unfiltered_the_holder_sees_every_use_of_their_licences_only(client, log):
    response = client.get("/holder/accesses/")
    assert response.status_code == 200
    assert rows(response) == 4
    assert log[2].identifier not in response.content.decode()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"operation": "verify"}, 1),
        ({"operation": "query"}, 1),
        ({"agency": "不动产"}, 1),
        ({"agency": "政务服务中心"}, 2),
        ({"since": "{d2}", "until": "{d1}"}, 2),  # the day `until` names is included
        ({"since": "{d0}"}, 1),
        ({"until": "{d3}"}, 1),
        ({"agency": "政务服务中心", "since": "{d1}"}, 1),
    ],
)
def test_filters(client, log, query, expected):
    days = {f"{{d{n}}}": (timezone.localdate() - timedelta(days=n)).isoformat() for n in range(4)}
    query = {k: days.get(v, v) for k, v in query.items()}
    response = client.get("/holder/accesses/", query)
    assert response.status_code == 200
    assert rows(response) == expected


def test_filter_by_licence_and_agency_code(client, log, consumer_user):
    first, second, _ = log
    assert rows(client.get("/holder/accesses/", {"identifier": first.identifier})) == 2
    assert rows(client.get("/holder/accesses/", {"identifier": second.identifier})) == 2
    code = consumer_user.agency.code
    assert rows(client.get("/holder/accesses/", {"agency": code})) == 2


def test_the_csv_holds_exactly_the_filtered_rows_and_the_export_is_recorded(client, log):
    first, _, _ = log
    before = AccessRecord.objects.count()
    # when: the licence filter, as the page's export link carries it
    page = client.get("/holder/accesses/", {"identifier": first.identifier})
    link = re.search(r'href="(/holder/accesses\.csv\?[^"]+)"', page.content.decode()).group(1)
    response = client.get(link.replace("&amp;", "&"))
    # then
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="access-log-')
    table = exported(response)
    assert table[0][:5] == ["时间", "用证单位", "用证单位代码", "经办人", "操作"]
    assert [(r[1], r[4], r[9]) for r in table[1:]] == [
        ("政务服务中心", "查询", first.identifier),
        ("政务服务中心", "比对", first.identifier),
    ]
    assert table[1][8] == "'=HYPERLINK(1)"  # no formula from data
    # and the export is an access record of its own, not one of the rows
    assert AccessRecord.objects.count() == before + 1
    record = AccessRecord.objects.latest("id")
    assert (record.operation, record.username, record.outcome) == (
        "log_read",
        "holder_yuzhong",
        "allowed",
    )
    assert record.detail["export"] == "csv" and record.detail["rows"] == 2
    assert record.detail["filters"] == {"identifier": first.identifier}
    # the holder sees the export in their own log
    assert "导出 2 条" in client.get("/holder/accesses/").content.decode()


def test_the_csv_of_a_date_range(client, log):
    day = (timezone.localdate() - timedelta(days=1)).isoformat()
    table = exported(client.get("/holder/accesses.csv", {"since": day, "until": day}))
    assert sorted(r[4] for r in table[1:]) == ["比对", "验证"]


@pytest.mark.parametrize(
    "query",
    [
        {"operation": "delete"},
        {"since": "2026-13-01"},
        {"until": "昨天"},
        {"since": "2026-03-02", "until": "2026-03-01"},
        {"agency": "a\x00b"},
    ],
)
def test_a_bad_filter_is_400_in_chinese_and_nothing_is_read_or_recorded(client, log, query):
    before = AccessRecord.objects.count()
    page = client.get("/holder/accesses/", query)
    export = client.get("/holder/accesses.csv", query)
    assert (page.status_code, export.status_code) == (400, 400)
    assert "筛选条件无效" in page.content.decode() and rows(page) == 0
    assert "筛选条件无效" in export.content.decode()
    assert AccessRecord.objects.count() == before


def test_the_log_is_paginated(client, holder, issuer_user, license_type, consumer_user):
    lic = issue(issuer_user, license_type)
    for n in range(55):
        access_record(
            user=consumer_user,
            operation="query",
            matter_code="M0001",
            use_cause=f"第{n}次",
            licenses=[lic],
            outcome="allowed",
        )
    first = client.get("/holder/accesses/", {"operation": "query"})
    second = client.get("/holder/accesses/", {"operation": "query", "page": "2"})
    assert (rows(first), rows(second)) == (50, 5)
    assert "第 1 / 2 页" in first.content.decode()
    assert "operation=query&amp;page=2" in first.content.decode()
    assert "第54次" in first.content.decode() and "第0次" in second.content.decode()
    # the export is not paginated: all 55
    assert len(exported(client.get("/holder/accesses.csv", {"operation": "query"}))) == 56


def test_signed_out_there_is_no_export(log):
    response = Client().get("/holder/accesses.csv")
    assert response.status_code == 302 and response.url.startswith("/holder/login/")
