"""The share endpoints obey grants and record every use, refusals included (DESIGN §7)."""

import pytest
from django.test import override_settings

from shared.access import ratelimit
from shared.access.models import AccessRecord
from shared.domain.identifiers import build_identifier, parse_identifier

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


@override_settings(ACCESS_MISS_PER_MINUTE=4)
def test_guessing_identifiers_trips_the_rate_limit(consumer, issued):
    """Each guess answers 查无此信息 like any missing licence; the misses spend the agency's
    budget of empty answers, then every call is refused (429) and the refusal recorded."""
    ratelimit.rate_reset()
    real = issued["identifier"]
    statuses = []
    parts = parse_identifier(real)
    for i in range(6):
        guess = str(  # a well-formed identifier of the same type and issuer, another serial
            build_identifier(
                type_code=parts.type_code,
                issuer_code=parts.issuer_code,
                serial=f"{parts.serial[:4]}{9000000 + i:07d}",
                version=1,
            )
        )
        statuses.append(verify(consumer, guess, "M0001").status_code)
    assert statuses == [200] * 4 + [429] * 2
    refused = AccessRecord.objects.order_by("-id").first()
    assert (refused.outcome, refused.reason_code) == ("refused", "rate_limited")
    # the limit holds for a licence the consumer could see, too, until the minute turns
    assert verify(consumer, real, "M0001").status_code == 429
    ratelimit.rate_reset()
    assert verify(consumer, real, "M0001").status_code == 200
