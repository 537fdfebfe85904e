"""At the hub a purpose-bound query also asks the sector libraries, in one answer (art. 9)."""

import pytest

from provincial_hub.aggregation.models import SectorLibrary
from shared.access.grants import grant_create
from shared.access.models import AccessRecord
from shared.licenses.models import License
from tests.federation.sector_reference import SectorReference
from tests.support import make_uscc

pytestmark = pytest.mark.django_db


def test_query_answers_local_and_sector_licences(
    consumer, consumer_agency, library_admin, license_type
):
    holder = {"code": make_uscc(dept="91", area="410100", body="QCT00001"), "code_type": "001"}
    grant_create(
        actor=library_admin,
        agency_code=consumer_agency.code,
        type_code=license_type.type_code,
        matter_code="M0001",
    )
    sector_licence = {
        "identifier": f"1.2.156.3005.2.{license_type.type_code}.X.1",
        "type_code": license_type.type_code,
        "issuer_code": "11410000000000001X",
        "holder": holder,
        "name": "危险化学品经营许可证",
    }
    with SectorReference([sector_licence]) as sector:
        SectorLibrary.objects.create(
            code="yjglt",
            name="省应急管理厅行业库",
            base_url=sector.url,
            type_codes=[license_type.type_code],
        )
        response = consumer.post(
            "/api/v1/share/query/",
            {
                "holder": holder,
                "matter_code": "M0001",
                "use_cause": "办理安全生产许可，核验危化品经营许可",
            },
            format="json",
        )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["count"] == 0
    assert [(i["identifier"], i["library_code"]) for i in body["sector_results"]] == [
        (sector_licence["identifier"], "yjglt")
    ]
    assert body["unavailable_libraries"] == []
    assert License.objects.count() == 0  # nothing copied
    assert AccessRecord.objects.filter(identifier=sector_licence["identifier"]).exists()
