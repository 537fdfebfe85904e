"""Issue #10 item 2 at the hub: the unauthenticated exchange endpoint and the hub's own lists
go through the same input guard and paging bounds as a node's; JSON 404/500 with DEBUG off."""

from types import SimpleNamespace
from unittest import mock

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from shared.core.api.parsers import INT64_MAX
from shared.federation.models import InboundCursor

pytestmark = pytest.mark.django_db
ENVELOPES = "/api/v1/exchange/envelopes/"
ERROR_KEYS = {"code", "message", "detail"}


def refused(response, code, status=400):
    assert response.status_code == status, response.content[:300]
    assert set(response.json()) == ERROR_KEYS
    assert response.json()["code"] == code
    return response.json()


@pytest.mark.parametrize(
    "raw,code",
    [
        (b'{"body": ' + b"[" * 5000 + b"]" * 5000 + b"}", "request.too_deep"),
        (b'{"body": {"sender": "\\ud800"}, "sig": "x"}', "request.invalid_unicode"),
        (b'{"body": {"events": [{"seq": 99999999999999999999}]}}', "request.number_out_of_range"),
    ],
)
def test_a_bad_envelope_body_is_400_before_it_is_opened(raw, code):
    """Anyone may post to /api/v1/exchange/envelopes/ (the signature is inside the body)."""
    nothing = SimpleNamespace(
        high_water_mark=0, applied=0, duplicates=0, rejected=[], request_ids=[]
    )
    with mock.patch("shared.federation.api.views.ingest_envelope", return_value=nothing) as ingest:
        response = APIClient().post(ENVELOPES, raw, content_type="application/json")
        refused(response, code)
        assert not ingest.called  # refused before the view's logic
        ok = APIClient().post(ENVELOPES, b'{"body": {}}', content_type="application/json")
        assert ok.status_code == 200 and ingest.called  # (a plain body does reach it)
    assert not InboundCursor.objects.exists()


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/access-log/",
        "/api/v1/aggregation/files/",
        "/api/v1/bulk-requests/",
        "/api/v1/catalog/types/",
        "/api/v1/federation/outbox/",
        "/api/v1/federation/reconciliations/",
        "/api/v1/files/",
        "/api/v1/grants/",
        "/api/v1/licenses/",
        "/api/v1/licenses/batches/",
    ],
)
def test_paging_past_64_bits_is_400_on_every_hub_list(path, admin, issuer, license_type):
    served = 0
    for client in (admin, issuer):
        response = client.get(f"{path}?limit=9223372036854775808&offset=0")
        if response.status_code == 403:
            continue
        served += 1
        body = refused(response, "request.number_out_of_range")
        assert body["detail"] == {"param": "limit", "max": INT64_MAX}
    assert served


@override_settings(DEBUG=False)
def test_hub_unknown_url_and_unexpected_error_are_json(admin):
    response = APIClient().get("/api/v1/no-such-thing/")
    assert refused(response, "not_found", 404)["detail"] == {"path": "/api/v1/no-such-thing/"}
    assert "URLconf" not in response.content.decode()
    admin.raise_request_exception = False
    with mock.patch(
        "provincial_hub.aggregation.api.views.selectors.aggregation_nodes",
        side_effect=RuntimeError("secret traceback text"),
    ) as nodes:
        response = admin.get("/api/v1/aggregation/nodes/")
    assert nodes.called
    assert response.status_code == 500
    assert response.json() == {
        "code": "server_error",
        "message": "服务器内部错误，请联系管理员",
        "detail": {},
    }
    assert "secret" not in response.content.decode()
