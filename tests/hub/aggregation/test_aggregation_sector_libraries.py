"""Sector libraries are queried live at the hub and never copied (art. 9)."""

import pytest

from provincial_hub.aggregation.models import SectorLibrary
from provincial_hub.aggregation.sector import sector_query
from shared.licenses.models import License
from tests.federation.sector_reference import SectorReference

pytestmark = pytest.mark.django_db

HOLDER = {"code": "91410100MA45XYZ12X", "code_type": "001"}
LICENCES = [
    {
        "identifier": "1.2.156.3005.2.X.1",
        "type_code": "11100000000000131E901",
        "holder": HOLDER,
        "name": "危险化学品经营许可证",
    },
    {
        "identifier": "1.2.156.3005.2.X.2",
        "type_code": "11100000000000131E902",
        "holder": HOLDER,
        "name": "特种设备使用登记证",
    },
    {
        "identifier": "1.2.156.3005.2.X.3",
        "type_code": "11100000000000131E901",
        "holder": {"code": "other", "code_type": "001"},
        "name": "x",
    },
]


def query(**kw):
    args = {
        "holder_code": HOLDER["code"],
        "holder_code_type": "001",
        "matter_code": "M1",
        "use_cause": "办理企业变更登记核验",
        "requester": "11410100000020019X",
    }
    args.update(kw)
    return sector_query(**args)


def test_hub_asks_the_sector_library_and_stores_nothing():
    with SectorReference(LICENCES) as sector:
        SectorLibrary.objects.create(
            code="yjglt",
            name="省应急管理厅行业库",
            base_url=sector.url,
            type_codes=["11100000000000131E901"],
        )
        answer = query()
        assert [(i["identifier"], i["library_code"], i["source"]) for i in answer.licenses] == [
            ("1.2.156.3005.2.X.1", "yjglt", "sector")
        ]
        assert answer.unavailable == []
        assert sector.requests[0]["use_cause"] == "办理企业变更登记核验"
        assert sector.requests[0]["type_codes"] == ["11100000000000131E901"]
    assert License.objects.count() == 0


def test_a_library_that_does_not_answer_is_named_not_fatal():
    SectorLibrary.objects.create(
        code="down", name="无响应的行业库", base_url="http://127.0.0.1:9", type_codes=["T"]
    )
    with SectorReference(LICENCES) as sector:
        SectorLibrary.objects.create(
            code="ok", name="行业库", base_url=sector.url, type_codes=["11100000000000131E902"]
        )
        answer = query()
    assert answer.unavailable == ["down"]
    assert [i["identifier"] for i in answer.licenses] == ["1.2.156.3005.2.X.2"]


def test_type_filter_limits_which_libraries_are_asked():
    with SectorReference(LICENCES) as sector:
        SectorLibrary.objects.create(
            code="a", name="A", base_url=sector.url, type_codes=["11100000000000131E901"]
        )
        answer = query(type_codes=["11100000000000131E999"])
        assert answer.licenses == [] and sector.requests == []
