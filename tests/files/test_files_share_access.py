"""The share endpoints obey grants and record every use, refusals included (DESIGN §7)."""

import pytest

from shared.access.models import AccessRecord

pytestmark = pytest.mark.django_db


def verify(client, ident, matter):
    return client.post(
        "/api/v1/share/verify/",
        {"identifier": ident, "matter_code": matter, "use_cause": "核验营业执照"},
        format="json",
    )


def test_granted_matter_is_answered_and_recorded(consumer, issued):
    ident = issued["identifier"]
    before = AccessRecord.objects.count()
    response = verify(consumer, ident, "M0001")
    assert response.status_code == 200
    assert response.json()["info_result"]["code"] == 0
    record = AccessRecord.objects.order_by("-id").first()
    assert AccessRecord.objects.count() == before + 1
    assert (record.operation, record.outcome, record.matter_code) == ("verify", "allowed", "M0001")


def test_other_matter_is_refused_and_the_refusal_recorded(consumer, issued):
    before = AccessRecord.objects.count()
    response = verify(consumer, issued["identifier"], "M9999")
    assert response.status_code == 403
    assert response.json()["code"] == "access.no_grant"
    assert "license" not in response.json()
    assert AccessRecord.objects.count() == before + 1
    assert AccessRecord.objects.order_by("-id").first().outcome == "refused"


def test_another_issuer_is_refused_and_recorded(other_issuer, issued):
    before = AccessRecord.objects.count()
    response = verify(other_issuer, issued["identifier"], "M0001")
    assert response.status_code == 403
    assert response.json()["code"] == "share.forbidden"
    assert AccessRecord.objects.count() == before + 1
