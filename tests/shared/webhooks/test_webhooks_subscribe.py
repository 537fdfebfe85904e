"""Subscribing (issue #14 item 4): only for a licence the agency has lawfully used under the
matter (grant + access record), and the subscription is itself an access record."""

import threading

import pytest
from django.db import connections
from django.test import override_settings
from django.utils import timezone

from shared.access.models import AccessRecord, Grant
from shared.audit.models import AuditEntry
from shared.webhooks.models import Subscription
from tests.shared.webhooks.conftest import MATTER
from tests.support import make_agency, make_user, token_client

pytestmark = pytest.mark.django_db
SUBSCRIBE = AccessRecord.Operation.SUBSCRIBE


def body(licence, receiver, **overrides):
    values = {
        "identifier": licence.identifier,
        "matter_code": MATTER,
        "use_cause": "跟踪食品经营许可证状态，办理后续监管",
        "target_url": receiver.url,
        "signing": "hmac-sha256",
    }
    values.update(overrides)
    return values


def subscribe_records(outcome):
    return AccessRecord.objects.filter(operation=SUBSCRIBE, outcome=outcome)


def test_consumer_without_grant_is_refused_and_nothing_created(consumer, licence, receiver):
    # given: the consumer's agency holds no grant for the licence's type and matter
    # when
    response = consumer.post("/api/v1/webhooks/subscriptions/", body(licence, receiver))
    # then
    assert response.status_code == 403
    assert response.json()["code"] == "access.no_grant"
    assert response.json()["message"] == "本单位没有该证照类型和事项的用证授权"
    assert Subscription.objects.count() == 0
    assert not AuditEntry.objects.filter(action="webhook.subscribe").exists()
    refused = subscribe_records(AccessRecord.Outcome.REFUSED).get()
    assert refused.reason_code == "access.no_grant"
    assert refused.matter_code == MATTER


def test_granted_consumer_that_never_used_the_licence_is_refused(
    consumer, granted, licence, receiver
):
    # given: a grant, but no use of this licence under the matter
    # when
    response = consumer.post("/api/v1/webhooks/subscriptions/", body(licence, receiver))
    # then
    assert response.status_code == 403
    assert response.json()["code"] == "webhook.not_used"
    assert Subscription.objects.count() == 0
    refused = subscribe_records(AccessRecord.Outcome.REFUSED).get()
    assert (refused.reason_code, refused.identifier) == ("webhook.not_used", licence.identifier)


def test_use_under_another_matter_does_not_count(consumer, used, receiver, consumer_agency):
    # given: a grant for another matter too, but the licence was used under MATTER only
    Grant.objects.create(
        agency=consumer_agency,
        license_type=used.license_type,
        matter_code="M0002",
        tier=Grant.Tier.CITY,
        valid_from=timezone.localdate(),
    )
    # when
    response = consumer.post(
        "/api/v1/webhooks/subscriptions/", body(used, receiver, matter_code="M0002")
    )
    # then
    assert response.status_code == 403
    assert response.json()["code"] == "webhook.not_used"
    assert Subscription.objects.count() == 0


def test_subscribe_list_delete_each_in_the_access_log(consumer, used, receiver):
    # when
    created = consumer.post("/api/v1/webhooks/subscriptions/", body(used, receiver))
    # then: created, its secret shown once, the subscription an access record of its own
    assert created.status_code == 201, created.content
    answer = created.json()
    assert len(answer["secret"]) == 64
    assert (answer["identifier"], answer["target_url"]) == (used.identifier, receiver.url)
    allowed = subscribe_records(AccessRecord.Outcome.ALLOWED).get()
    assert allowed.identifier == used.identifier
    assert allowed.matter_code == MATTER
    assert allowed.use_cause == "跟踪食品经营许可证状态，办理后续监管"
    assert allowed.detail == {"subscription": answer["id"], "target_host": "127.0.0.1"}
    # the holder sees it among the uses of their licence
    assert (allowed.holder_digest, allowed.issuer_code) == (
        used.holder_code_digest,
        used.issuer.code,
    )
    assert AuditEntry.objects.filter(action="webhook.subscribe").count() == 1
    listed = consumer.get("/api/v1/webhooks/subscriptions/").json()
    assert [s["id"] for s in listed["results"]] == [answer["id"]]
    assert "secret" not in listed["results"][0]

    # when: the same again → 409, nothing more
    again = consumer.post("/api/v1/webhooks/subscriptions/", body(used, receiver))
    assert again.status_code == 409
    assert again.json()["code"] == "webhook.exists"
    assert Subscription.objects.count() == 1

    # when: deleted
    deleted = consumer.delete(f"/api/v1/webhooks/subscriptions/{answer['id']}/")
    # then
    assert deleted.status_code == 204
    assert consumer.get("/api/v1/webhooks/subscriptions/").json()["results"] == []
    assert Subscription.objects.get().deleted_at is not None
    assert subscribe_records(AccessRecord.Outcome.ALLOWED).count() == 2


def test_another_agency_cannot_delete_a_subscription(consumer, second_consumer, used, receiver):
    # given
    sub_id = consumer.post("/api/v1/webhooks/subscriptions/", body(used, receiver)).json()["id"]
    # when
    response = second_consumer.delete(f"/api/v1/webhooks/subscriptions/{sub_id}/")
    # then
    assert response.status_code == 404
    assert response.json()["code"] == "webhook.not_found"
    assert Subscription.objects.get().deleted_at is None
    assert second_consumer.get("/api/v1/webhooks/subscriptions/").json()["results"] == []


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"target_url": "ftp://127.0.0.1/x"}, 400, "webhook.target_url"),
        ({"target_url": "http://user:pw@127.0.0.1/x"}, 400, "webhook.target_url"),
        ({"target_url": "not a url"}, 400, "webhook.target_url"),
        ({"signing": "md5"}, 400, "validation_error"),
        ({"identifier": "1.2.156.3005.2.x"}, 404, "license.not_found"),
        ({"use_cause": ""}, 400, "validation_error"),
    ],
)
def test_bad_input_is_refused_and_nothing_created(
    consumer, used, receiver, overrides, status, code
):
    # when
    response = consumer.post("/api/v1/webhooks/subscriptions/", body(used, receiver, **overrides))
    # then
    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    assert Subscription.objects.count() == 0
    assert not subscribe_records(AccessRecord.Outcome.ALLOWED).exists()


@pytest.fixture
def second_consumer(db):
    agency = make_agency("不动产登记中心", body="00002002", is_consumer=True)
    return token_client(make_user("consumer_2", agency))


@pytest.mark.django_db(transaction=True)
def test_two_identical_subscriptions_at_once_make_one(consumer_user, used, receiver):
    # given: two clients of the same agency, posting the same subscription at the same moment
    clients = [token_client(consumer_user) for _ in range(2)]
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def post(client) -> None:
        try:
            barrier.wait()
            statuses.append(
                client.post("/api/v1/webhooks/subscriptions/", body(used, receiver)).status_code
            )
        finally:
            connections.close_all()

    # when
    threads = [threading.Thread(target=post, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # then
    assert sorted(statuses) == [201, 409]
    assert Subscription.objects.count() == 1


@override_settings(WEBHOOK_REQUIRE_HTTPS=True)
def test_https_only_when_required(consumer, used, receiver):
    # when
    response = consumer.post("/api/v1/webhooks/subscriptions/", body(used, receiver))
    # then
    assert response.status_code == 400
    assert response.json() == {
        "code": "webhook.target_url",
        "message": "接收地址无效：必须是 https 地址",
        "detail": {"field": "target_url"},
    }
    assert Subscription.objects.count() == 0
    ok = consumer.post(
        "/api/v1/webhooks/subscriptions/",
        body(used, receiver, target_url="https://consumer.example.gov.cn/hooks"),
    )
    assert ok.status_code == 201
