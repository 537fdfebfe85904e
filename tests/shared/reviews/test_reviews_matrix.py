"""Authorisation matrix of the review endpoints: every endpoint × every role → status.

Roles: anonymous; the licence's holder (portal session), who did not file this request; staff
of another issuer; a consumer without any grant; the library administrator; the supervisor;
and the parties: the consumer who filed and the issuer. Each call runs in a transaction rolled
back afterwards, so calls do not change each other's world.
"""

import pytest
from rest_framework.test import APIClient

from shared.reviews.models import ReviewAttachment
from tests.shared.reviews.conftest import body
from tests.support import make_agency, make_user, token_client, undone

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "holder", "other_issuer", "consumer_no_grant", "admin", "supervisor"]
ROLES += ["consumer", "issuer"]


def row(*statuses):
    return dict(zip(ROLES, statuses, strict=True))


#         anon hold oiss nogr admn supv cons issr
MATRIX = {
    "list": row(401, 200, 200, 200, 200, 200, 200, 200),
    "create": row(401, 201, 403, 403, 403, 403, 409, 403),
    "detail": row(401, 404, 404, 404, 200, 200, 200, 200),
    "answer": row(401, 404, 404, 404, 403, 403, 403, 200),
    "attachment": row(401, 404, 404, 404, 404, 404, 200, 200),
    "overdue": row(401, 200, 200, 200, 200, 200, 200, 200),
}
# Who sees the request in the list.
SEES = {"admin", "supervisor", "consumer", "issuer"}


@pytest.fixture
def clients(request, filed, holder_client, other_issuer, admin, supervisor, consumer, issuer):
    token = holder_client.get("/holder/") and holder_client.cookies["csrftoken"].value
    holder_client.defaults["HTTP_X_CSRFTOKEN"] = token
    loner = make_agency("公积金管理中心", body="00002003", is_consumer=True)
    return {
        "anonymous": APIClient(),
        "holder": holder_client,
        "other_issuer": other_issuer,
        "consumer_no_grant": token_client(make_user("consumer_3", loner)),
        "admin": admin,
        "supervisor": supervisor,
        "consumer": consumer,
        "issuer": issuer,
    }


def call(client, endpoint, review, lic):
    base = f"/api/v1/reviews/{review['id']}/"
    attachment = ReviewAttachment.objects.get(review_id=review["id"])
    if endpoint == "list":
        return client.get("/api/v1/reviews/")
    if endpoint == "create":
        return client.post("/api/v1/reviews/", body(lic.identifier), format="json")
    if endpoint == "detail":
        return client.get(base)
    if endpoint == "answer":
        return client.post(base + "answer/", {"outcome": "confirmed"}, format="json")
    if endpoint == "attachment":
        return client.get(f"{base}attachments/{attachment.pk}/")
    return client.get("/api/v1/reviews/overdue/")


@pytest.mark.parametrize("endpoint", sorted(MATRIX))
def test_matrix(clients, endpoint, filed, lic):
    ReviewAttachment.objects.create(
        review_id=filed["id"],
        name="a.pdf",
        content_type="application/pdf",
        size=5,
        sm3="0" * 64,
        sha256="0" * 64,
        content=b"%PDF-",
    )
    for role, expected in MATRIX[endpoint].items():
        with undone():  # each role sees the request as filed, not as the last role left it
            client = clients[role]
            if hasattr(client, "credentials"):
                response = call(client, endpoint, filed, lic)
            else:  # the portal's Django client: JSON bodies as JSON
                response = call(_Json(client), endpoint, filed, lic)
        status = response.status_code
        assert status == expected, (endpoint, role, response.content[:300])
        if status >= 400:
            assert set(response.json()) == {"code", "message", "detail"}
        if endpoint == "list" and status == 200:
            listed = [r["id"] for r in response.json()["results"]]
            assert listed == ([filed["id"]] if role in SEES else []), role


class _Json:
    """Django's test client posting JSON as the API client does with `format="json"`."""

    def __init__(self, client):
        self.client = client

    def get(self, path):
        return self.client.get(path)

    def post(self, path, data, **_):
        return self.client.post(path, data, content_type="application/json")
