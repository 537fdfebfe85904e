"""A node tells the hub about each ready file by digest (`file.ready`, in the transaction that
marks it ready) and answers the hub's signed fetch of the bytes by digest."""

import time

import pytest

from shared.crypto.suites import suite_for_key
from shared.crypto.tokens import sign_token
from shared.domain.canonical import sm3_hex
from shared.federation.keys import export_public, peer_register, signing_key
from shared.federation.models import OutboxEvent
from shared.files import storage
from shared.files.models import LicenseFile
from shared.licenses.models import License
from tests.shared.files.files_support import issue, render_pending

pytestmark = pytest.mark.django_db


def file_events():
    return list(OutboxEvent.objects.filter(kind="file.ready").order_by("seq"))


def test_a_ready_file_writes_one_small_file_event_for_the_hub(issuer, issue_payload, pki):
    ident = issue(issuer, issue_payload())["identifier"]
    assert file_events() == []  # nothing before the file exists
    (row,) = render_pending()
    (event,) = file_events()
    assert event.stream == "410000"
    assert event.payload | {"committed_at": None} == {
        "schema": event.payload["schema"],
        "identifier": ident,
        "version": 1,
        "variant": "original",
        "sm3": row.sm3,
        "size": row.size,
        "content_type": "application/pdf",
        "committed_at": None,
    }
    assert row.sm3 == sm3_hex(storage.read(row.path))
    assert len(str(event.payload)) < 600  # the bytes do not travel in the envelope
    # the event follows the licence's own event on the stream
    kinds = list(OutboxEvent.objects.order_by("seq").values_list("kind", flat=True))
    assert kinds[-2:] == ["license.event", "file.ready"]


def test_files_rendered_before_files_travelled_can_be_announced_once(issuer, issue_payload, pki):
    from django.core.management import call_command

    for n in range(2):
        issue(issuer, issue_payload(number=f"JY14101000000{n:03d}"))
    render_pending()
    ready = {f.sm3: f for f in LicenseFile.objects.filter(state="ready")}
    assert len(ready) == 2
    OutboxEvent.objects.filter(kind="file.ready").delete()  # as an older release left them
    call_command("federation", "announce-files")
    events = file_events()
    assert {e.payload["sm3"] for e in events} == set(ready)
    for event in events:
        row = ready[event.payload["sm3"]]
        assert event.stream == "410000"
        assert (event.payload["identifier"], event.payload["size"]) == (row.identifier, row.size)
    call_command("federation", "announce-files")  # already announced: nothing new
    assert len(file_events()) == 2
    call_command("federation", "announce-files", "--all")  # the operator asks for all again
    assert len(file_events()) == 4


def test_a_revoked_licence_announces_its_watermarked_file(issuer, issue_payload, pki):
    ident = issue(issuer, issue_payload())["identifier"]
    render_pending()
    issuer.post(f"/api/v1/licenses/{ident}/revoke/", {"reason": "吊销"}, format="json")
    render_pending()
    assert [e.payload["variant"] for e in file_events()] == ["original", "revoked"]


def test_files_of_licences_from_the_hub_are_not_sent_back_up(issuer, issue_payload, pki):
    issue(issuer, issue_payload())
    License.objects.update(library_code="410000")  # as if it had come down from the hub
    render_pending()
    assert LicenseFile.objects.get().state == "ready"
    assert file_events() == []


def hub_token(path, audience="410100", issuer_code="410000"):
    """A request token signed as the hub for `GET path`: the hub's key is this test library's
    own key, registered as the peer 410000."""
    from shared.federation.auth import body_digest

    peer_register(code="410000", **{k: export_public()[k] for k in ("kid", "public_key_pem")})
    kid, key = signing_key()
    now = int(time.time())
    claims = {"iss": issuer_code, "aud": audience, "iat": now, "exp": now + 60}
    claims |= {"htm": "GET", "htu": path, "bdh": body_digest(b"")}
    return sign_token(suite=suite_for_key(key), key=key, kid=kid, claims=claims)


def test_the_hub_fetches_a_file_by_digest(client, issuer, issue_payload, pki):
    issue(issuer, issue_payload())
    (row,) = render_pending()
    url = f"/api/v1/federation/files/{row.sm3}"
    response = client.get(url, HTTP_X_EXCHANGE_TOKEN=hub_token(url))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert sm3_hex(response.content) == row.sm3
    assert len(response.content) == row.size


def test_the_file_endpoint_refuses_and_answers_the_error_shape(client, issuer, issue_payload, pki):
    issue(issuer, issue_payload())
    (row,) = render_pending()
    url = f"/api/v1/federation/files/{row.sm3}"
    unsigned = client.get(url)
    assert unsigned.status_code == 401
    assert unsigned.json()["code"] == "exchange.auth_required"
    zeros = "/api/v1/federation/files/" + "0" * 64
    missing = client.get(zeros, HTTP_X_EXCHANGE_TOKEN=hub_token(zeros))
    assert missing.status_code == 404
    assert missing.json()["code"] == "file.not_found"
    assert missing.json()["message"]
    bad = "/api/v1/federation/files/not-a-digest"
    garbage = client.get(bad, HTTP_X_EXCHANGE_TOKEN=hub_token(bad))
    assert garbage.status_code == 404
    # another registered city (not the hub) may not fetch
    peer_register(code="410300", **{k: export_public()[k] for k in ("kid", "public_key_pem")})
    other = client.get(url, HTTP_X_EXCHANGE_TOKEN=hub_token(url, issuer_code="410300"))
    assert other.status_code == 403
    assert other.json()["code"] == "exchange.forbidden"


def test_a_resent_licence_carries_its_ready_files_by_digest(issuer, issue_payload, pki):
    """Reconciliation's whole-licence repair names the licence's files as `file.ready` does."""
    from shared.federation.outbox import license_key, license_resend

    ident = issue(issuer, issue_payload())["identifier"]
    lic = License.objects.get(identifier=ident)
    (row,) = render_pending()
    assert license_resend(stream="410000", keys=[license_key(lic)]) == 1
    repair = OutboxEvent.objects.filter(kind="license.repair").get()
    (carried,) = repair.payload["files"]
    assert (carried["identifier"], carried["variant"], carried["sm3"], carried["size"]) == (
        ident,
        "original",
        row.sm3,
        row.size,
    )
