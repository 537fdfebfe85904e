"""Fixtures for licence files: a files root per test, the PKI, a real `signing` worker."""

from pathlib import Path

import pytest
from django.conf import settings

from shared.core import effects
from shared.files import keystore
from tests.shared.files.files_support import issue, render_pending


@pytest.fixture(autouse=True)
def files_root(settings, tmp_path):
    settings.FILES_ROOT = str(tmp_path / "files")
    settings.FILES_PUBLIC_BASE_URL = "http://testserver"
    settings.FILES_TSA_URL = ""
    keystore.reset_caches()
    yield Path(settings.FILES_ROOT)
    keystore.reset_caches()


@pytest.fixture
def pki(db):
    return keystore.pki_init()


@pytest.fixture
def issued(issuer, issue_payload, pki):
    """A licence issued over the API with its file rendered and sealed."""
    body = issue(issuer, issue_payload())
    render_pending()
    return body


@pytest.fixture
def signing_worker(transactional_db):
    from celery.contrib.testing.worker import start_worker

    if settings.LIBRARY_TIER == "hub":
        from provincial_hub.celery import app
    else:
        from municipal_node.celery import app
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("signing")
    effects.forget_windows()  # the purge took any drain this process counts on
    with start_worker(app, perform_ping_check=False, pool="solo", queues=["signing"]) as worker:
        yield worker


@pytest.fixture(autouse=True)
def consumer_grants(request):
    """The consumer agency holds grants for matter M0001 on the test types (DESIGN §7), so the
    share endpoints answer it; tests of refusals use other agencies or matters."""
    if "consumer" not in request.fixturenames:
        return
    from shared.access.grants import grant_create

    admin = request.getfixturevalue("library_admin")
    agency = request.getfixturevalue("consumer_agency")
    for name in ("license_type", "review_type"):
        license_type = request.getfixturevalue(name)
        grant_create(
            actor=admin,
            agency_code=agency.code,
            type_code=license_type.type_code,
            matter_code="M0001",
        )
