"""GET /readyz: 200 when the database, the broker and the signing key all answer; 503 naming
the one that does not, fast, and never a 500."""

import socket
import time

import pytest

from shared.federation.models import LocalKey


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # released on close: nothing listens there


@pytest.mark.django_db
def test_readyz_is_ready_when_every_check_passes(client, settings):
    # when
    response = client.get("/readyz")

    # then
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"] == {"database": "ok", "migrations": "ok", "broker": "ok", "signing": "ok"}
    assert body["failing"] == []
    assert body["library_code"] == settings.LIBRARY_CODE
    assert LocalKey.objects.filter(active=True).count() == 1  # the one key the library signs with


@pytest.mark.django_db
def test_readyz_names_an_unreachable_broker_quickly(client, settings):
    # given
    client.get("/readyz")  # the federation key exists (its first use creates it)
    keys = list(LocalKey.objects.values_list("kid", flat=True))
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{closed_port()}/0"

    # when
    started = time.monotonic()
    response = client.get("/readyz")
    elapsed = time.monotonic() - started

    # then
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready"
    assert body["failing"] == ["broker"]
    assert body["checks"]["broker"].startswith("error: ")
    assert body["checks"]["database"] == body["checks"]["signing"] == "ok"
    assert elapsed < 1.0
    assert list(LocalKey.objects.values_list("kid", flat=True)) == keys  # nothing changed


@pytest.mark.django_db
def test_readyz_names_a_key_that_cannot_sign(client, settings):
    # given: the active key's PEM is not a key
    client.get("/readyz")
    LocalKey.objects.filter(active=True).update(private_pem="not a key")

    # when
    response = client.get("/readyz")

    # then
    assert response.status_code == 503
    assert response.json()["failing"] == ["signing"]
    assert LocalKey.objects.filter(active=True, private_pem="not a key").count() == 1


@pytest.mark.django_db
def test_readyz_pings_the_rate_limits_redis_where_it_is_not_the_broker(client, settings):
    """A hub on RabbitMQ keeps its rate-limit counters in REDIS_URL (RATE_LIMIT_REDIS_URL)."""
    # given: the test Redis, then a port where nothing listens
    settings.RATE_LIMIT_REDIS_URL = settings.CELERY_BROKER_URL
    # when / then
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["redis"] == "ok"
    settings.RATE_LIMIT_REDIS_URL = f"redis://127.0.0.1:{closed_port()}/0"
    down = client.get("/readyz")
    assert down.status_code == 503
    assert down.json()["failing"] == ["redis"]
    assert down.json()["checks"]["broker"] == "ok"
