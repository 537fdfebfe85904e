"""At the hub the purpose-bound query covers the licences aggregated from every city (they live
in the same licence table) and says which library each came from."""

import pytest

from shared.access.models import AccessRecord
from shared.licenses.models import License
from tests.shared.access.conftest import issue

pytestmark = pytest.mark.django_db


def test_query_answers_across_libraries_and_names_each_source(
    consumer, granted_consumer, issuer_user, license_type, query_body
):
    # given: the holder's licences from three libraries (two arrived through aggregation)
    here = issue(issuer_user, license_type, number="P1")
    zhengzhou = issue(issuer_user, license_type, number="Z1")
    luoyang = issue(issuer_user, license_type, number="L1")
    License.objects.filter(pk=zhengzhou.pk).update(library_code="410100")
    License.objects.filter(pk=luoyang.pk).update(library_code="410300")
    # when
    body = consumer.post("/api/v1/share/query/", query_body(), format="json").json()
    # then
    sources = {r["number"]: r["library_code"] for r in body["results"]}
    assert sources == {"P1": here.library_code, "Z1": "410100", "L1": "410300"}
    recorded = dict(
        AccessRecord.objects.filter(request_id=body["request_id"]).values_list(
            "identifier", "source_library"
        )
    )
    assert recorded[luoyang.identifier] == "410300"
