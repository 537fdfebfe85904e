"""At the hub, a city's `file.ready` event records the file by digest; the bytes are fetched
from the node over real HTTP (a small server in a thread plays the node's endpoint), checked
against the SM3 digest and size, stored, and served from `file.pdf`."""

import base64
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from provincial_hub.aggregation.files import remote_file_fetch, remote_file_sweep
from provincial_hub.aggregation.models import RemoteFile
from shared.core.errors import PermanentError
from shared.domain.canonical import sm3_hex
from shared.federation.apply import HANDLERS
from shared.federation.keys import export_public, peer_register
from shared.files import storage
from shared.licenses.models import License

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.7\n" + "郑州市签章文件".encode() * 500 + b"\n%%EOF\n"


class FakeNode:
    """The node's `GET /api/v1/federation/files/<sm3>`: answers what `files` holds."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.requests: list[dict] = []
        node = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                sm3 = self.path.rsplit("/", 1)[-1]
                node.requests.append({"path": self.path, "token": self.headers["X-Exchange-Token"]})
                data = node.files.get(sm3)
                if data is None:
                    body = json.dumps({"code": "file.not_found", "message": "无", "detail": {}})
                    self.send_response(404)
                    self.send_header("Content-Type", "application/json")
                    data = body.encode()
                else:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/pdf")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def node(settings, tmp_path):
    settings.FILES_ROOT = str(tmp_path / "files")
    fake = FakeNode()
    key = export_public()  # any valid key: the hub only calls out to this peer here
    peer_register(
        code="410100", kid=key["kid"], public_key_pem=key["public_key_pem"], base_url=fake.url
    )
    yield fake
    fake.close()


@pytest.fixture
def city_license(issuer, issue_payload):
    """A licence the hub holds for 郑州 (as if it had arrived on the city's stream)."""
    ident = issuer.post("/api/v1/licenses/", issue_payload(), format="json").json()["identifier"]
    License.objects.filter(identifier=ident).update(library_code="410100")
    return License.objects.get(identifier=ident)


def event(lic, data=PDF, **overrides):
    return {
        "schema": 1,
        "identifier": lic.identifier,
        "version": lic.version,
        "variant": "original",
        "sm3": sm3_hex(data),
        "size": len(data),
        "content_type": "application/pdf",
        "committed_at": timezone.now().isoformat(),
    } | overrides


def apply(payload, captured, sender="410100"):
    with captured() as callbacks:
        row = HANDLERS["file.ready"](payload, sender=sender)
    return row, callbacks


def test_duplicate_delivery_records_the_file_once(
    node, city_license, django_capture_on_commit_callbacks
):
    first, queued = apply(event(city_license), django_capture_on_commit_callbacks)
    assert (first.state, first.attempts, first.node) == ("pending", 0, "410100")
    assert len(queued) == 1  # the fetch is queued after commit
    again, queued_again = apply(event(city_license), django_capture_on_commit_callbacks)
    assert again.pk == first.pk
    assert RemoteFile.objects.count() == 1
    assert queued_again == []  # the same file again: nothing to fetch twice
    # a new rendering of the same version (another digest) replaces the reference
    other = PDF + b"%again\n"
    renewed, queued_renewed = apply(event(city_license, other), django_capture_on_commit_callbacks)
    assert RemoteFile.objects.count() == 1
    assert (renewed.sm3, renewed.state) == (sm3_hex(other), "pending")
    assert len(queued_renewed) == 1


def test_fetch_stores_the_verified_bytes_and_the_hub_serves_them(
    node, city_license, admin, django_capture_on_commit_callbacks
):
    row, _ = apply(event(city_license), django_capture_on_commit_callbacks)
    url = f"/api/v1/licenses/{city_license.identifier}/file.pdf"
    waiting = admin.get(url)
    assert waiting.status_code == 409
    assert waiting.json()["code"] == "file.not_fetched"
    assert "尚未" in waiting.json()["message"]
    node.files[row.sm3] = PDF
    fetched = remote_file_fetch(file_id=row.pk)
    assert (fetched.state, fetched.attempts, fetched.last_error) == ("ready", 1, "")
    assert storage.read(fetched.path) == PDF
    # the hub signed its request for this node
    (call,) = node.requests
    assert call["path"] == f"/api/v1/federation/files/{row.sm3}"
    claims = call["token"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    assert (claims["iss"], claims["aud"]) == ("410000", "410100")
    served = admin.get(url)
    assert served.status_code == 200
    assert served["Content-Type"] == "application/pdf"
    assert sm3_hex(served.content) == row.sm3
    detail = admin.get(f"/api/v1/licenses/{city_license.identifier}/").json()
    assert detail["file"]["state"] == "ready" and detail["file"]["sm3"] == row.sm3
    # running the task again changes nothing and asks nothing
    assert remote_file_fetch(file_id=row.pk).state == "ready"
    assert len(node.requests) == 1


def test_a_digest_mismatch_is_refused_recorded_and_retried(
    node, city_license, admin, django_capture_on_commit_callbacks, settings
):
    row, _ = apply(event(city_license), django_capture_on_commit_callbacks)
    node.files[row.sm3] = PDF.replace("郑州".encode(), "洛阳".encode())  # same size, other bytes
    failed = remote_file_fetch(file_id=row.pk)
    assert failed.state == "failed"
    assert failed.attempts == 1
    assert "federation.file_digest_mismatch" in failed.last_error
    assert failed.next_attempt_at > timezone.now()  # back-off
    assert not (storage.files_root() / "remote").exists()  # never stored
    conflict = admin.get(f"/api/v1/licenses/{city_license.identifier}/file.pdf")
    assert conflict.status_code == 409
    assert conflict.json()["detail"]["state"] == "failed"
    # the operator sees it per city
    nodes = admin.get("/api/v1/aggregation/nodes/").json()
    zhengzhou = next(n for n in nodes if n["code"] == "410100")
    assert zhengzhou["files"] == {"pending": 0, "ready": 0, "failed": 1}
    listed = admin.get("/api/v1/aggregation/files/?node=410100&state=failed").json()
    assert listed["count"] == 1
    assert "digest_mismatch" in listed["results"][0]["last_error"]
    # the sweep waits for the back-off, then tries again
    assert remote_file_sweep() == []
    RemoteFile.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    assert remote_file_sweep() == [row.pk]
    # a wrong size is refused too
    node.files[row.sm3] = PDF + b"x"
    assert "federation.file_size_mismatch" in remote_file_fetch(file_id=row.pk).last_error
    # after too many attempts the sweep stops; the operator's retry starts afresh
    RemoteFile.objects.filter(pk=row.pk).update(
        attempts=settings.FEDERATION_FILE_MAX_ATTEMPTS, next_attempt_at=timezone.now()
    )
    assert remote_file_sweep() == []
    with django_capture_on_commit_callbacks() as queued:
        retried = admin.post("/api/v1/aggregation/files/retry/", {"node": "410100"}, format="json")
    assert retried.json() == {"retried": 1}
    assert len(queued) == 1
    node.files[row.sm3] = PDF
    assert remote_file_fetch(file_id=row.pk).state == "ready"


def test_a_digest_the_hub_already_holds_is_not_fetched_again(
    node, city_license, issuer, issue_payload, django_capture_on_commit_callbacks
):
    row, _ = apply(event(city_license), django_capture_on_commit_callbacks)
    node.files[row.sm3] = PDF
    first = remote_file_fetch(file_id=row.pk)
    # the same bytes announced for the revoked variant of the version
    twin, _ = apply(event(city_license, variant="revoked"), django_capture_on_commit_callbacks)
    again = remote_file_fetch(file_id=twin.pk)
    assert (again.state, again.path) == ("ready", first.path)
    assert len(node.requests) == 1


def test_unreachable_node_and_missing_file_are_recorded(
    node, city_license, django_capture_on_commit_callbacks
):
    row, _ = apply(event(city_license), django_capture_on_commit_callbacks)
    missing = remote_file_fetch(file_id=row.pk)
    assert missing.state == "failed" and "file.not_found" in missing.last_error
    node.close()
    RemoteFile.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now() - timedelta(1))
    down = remote_file_fetch(file_id=row.pk)
    assert down.attempts == 2 and "federation.peer_unreachable" in down.last_error


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"sm3": "../../etc/passwd"}, "federation.file_digest_invalid"),
        ({"size": 0}, "federation.file_size_invalid"),
        ({"variant": "draft"}, "federation.file_variant_invalid"),
        ({"content_type": "text/html"}, "federation.file_type_invalid"),
    ],
)
def test_bad_file_events_are_refused(node, city_license, overrides, code):
    with pytest.raises(PermanentError) as refused:
        HANDLERS["file.ready"](event(city_license, **overrides), sender="410100")
    assert refused.value.code == code
    assert RemoteFile.objects.count() == 0


def test_a_city_cannot_announce_another_citys_file(node, city_license):
    with pytest.raises(PermanentError) as refused:
        HANDLERS["file.ready"](event(city_license), sender="410300")
    assert refused.value.code == "federation.file_foreign"


def test_a_repair_carries_the_files_and_a_bad_reference_does_not_undo_it(
    node, city_license, django_capture_on_commit_callbacks
):
    """Reconciliation resends whole licences; their files travel along by digest, so a hub that
    lost a `file.ready` learns of the file again. A reference it cannot take is skipped."""
    from shared.federation.outbox import repair_payload

    payload = repair_payload(city_license)  # what a node sends (here: the hub's own rows)
    payload["license"]["number"] = "补正后的编号"
    payload["files"] = [
        event(city_license),
        event(city_license, variant="revoked", sm3="not-a-digest"),
    ]
    with django_capture_on_commit_callbacks() as queued:
        lic = HANDLERS["license.repair"](payload, sender="410100")
    assert lic.number == "补正后的编号"
    (row,) = RemoteFile.objects.all()
    assert (row.identifier, row.variant, row.sm3) == (
        city_license.identifier,
        "original",
        sm3_hex(PDF),
    )
    assert len(queued) == 1  # its fetch


def test_a_city_licences_ofd_is_not_served_by_the_hub(
    node, city_license, admin, django_capture_on_commit_callbacks
):
    # given: the hub holds the city's PDF, fetched by digest
    row, _ = apply(event(city_license), django_capture_on_commit_callbacks)
    node.files[row.sm3] = PDF
    remote_file_fetch(file_id=row.pk)
    # when
    answer = admin.get(f"/api/v1/licenses/{city_license.identifier}/file.ofd")
    # then: a 404 naming why (the OFD stays at the node), and the PDF is still served
    assert answer.status_code == 404
    assert answer.json()["code"] == "file.ofd_not_held"
    assert admin.get(f"/api/v1/licenses/{city_license.identifier}/file.pdf").status_code == 200
