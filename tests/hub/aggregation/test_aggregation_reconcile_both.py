"""Reconciliation in both directions at the hub (issue #13 item 5): the hub's licences pushed
down to a city, the city's catalogue and files at the hub, rows held on one side only — each
found, repaired by its owner, and recorded with its direction.

A small HTTP server in a thread plays 郑州's node: its digests are the hub's own taken before
the hub (or "the node") was tampered with, so what differs is exactly what the test changed;
its resend endpoint records what the hub asked for; its file endpoint serves bytes by digest.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.conf import settings
from django.utils import timezone

from provincial_hub.aggregation.files import remote_file_audit, remote_file_fetch
from provincial_hub.aggregation.models import RemoteFile
from shared.catalog.models import LicenseType
from shared.core.errors import RetryableError
from shared.domain.canonical import sm3_hex
from shared.federation import digests
from shared.federation.digests import MemoryDigests, licence_leaves, type_digests
from shared.federation.keys import export_public, peer_register
from shared.federation.models import Arrival, OutboxEvent, QuarantinedRecord, ReconcileRun
from shared.federation.outbox import license_key
from shared.federation.reconciliation import reconcile_run
from shared.files import storage
from shared.files.models import LicenseFile
from shared.licenses.models import License
from tests.support import make_agency, make_type, make_user

pytestmark = pytest.mark.django_db

ZZ, HUB = "410100", "410000"
PDF = b"%PDF-1.7\n" + "郑州市签章文件".encode() * 300 + b"\n%%EOF\n"


class FakeNode:
    """郑州's digests (of its licences, of the hub's licences it holds, of its catalogue),
    resend and files endpoints over real HTTP."""

    def __init__(self):
        self.own = MemoryDigests({})
        self.down = MemoryDigests({})
        self.types: dict = {}
        self.files: dict[str, bytes] = {}
        self.resends: list[dict] = []
        node = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                data = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path.endswith("/resend/"):
                    node.resends.append(data)
                    answer = {
                        "queued": len(data["keys"]),
                        "types_queued": len(data.get("types", [])),
                    }
                elif data.get("kind") == "types":
                    answer = {"digests": node.types}
                else:
                    source = node.own if data["scope"] == ZZ else node.down
                    answer = {"digests": source.digests(data["level"], data["prefixes"])}
                self._send(200, "application/json", json.dumps(answer).encode())

            def do_GET(self):  # noqa: N802
                self._send(200, "application/pdf", node.files[self.path.rsplit("/", 1)[-1]])

            def _send(self, code, content_type, body):
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def node(settings, tmp_path):
    settings.FILES_ROOT = str(tmp_path / "files")
    settings.FEDERATION_PUSH_DOWN = True
    fake = FakeNode()
    key = export_public()  # any valid key: the hub only calls out to this peer here
    peer_register(code=ZZ, kid=key["kid"], public_key_pem=key["public_key_pem"], base_url=fake.url)
    yield fake
    fake.close()


def _issue(issuer, issue_payload, number):
    response = issuer.post("/api/v1/licenses/", issue_payload(number=number), format="json")
    assert response.status_code == 201, response.content
    return License.objects.get(identifier=response.json()["identifier"])


def _keys(scope):
    return {license_key(lic) for lic in License.objects.filter(library_code=scope)}


def _mirror(node):
    """The node as the hub's copy says it is (no difference): taken before tampering."""
    node.own = licence_leaves(scope=ZZ, keys=_keys(ZZ))
    node.types = type_digests(ZZ)


def _repairs(run):
    return {(r["kind"], r["direction"], r["action"]): r["keys"] for r in run.repairs}


# --- down: the hub's licences pushed to the city ------------------------------------------------


def test_licences_the_hub_pushed_down_and_the_city_lost_or_altered_are_resent_down(
    node, issuer, issue_payload
):
    # given: three hub licences for 郑州 holders, pushed down and acknowledged by the city
    pushed = [_issue(issuer, issue_payload, f"HUB{i:04d}") for i in range(3)]
    keys = sorted(license_key(lic) for lic in pushed)
    assert set(OutboxEvent.objects.filter(stream=ZZ).values_list("key", flat=True)) == set(keys)
    OutboxEvent.objects.filter(stream=ZZ).update(state=OutboxEvent.State.ACKNOWLEDGED)
    _mirror(node)
    city = licence_leaves(scope=HUB, keys=set(keys)).leaves_by_base
    # the city deleted one and altered another
    del city[keys[0]]
    l0, l1, _ = city[keys[1]]
    city[keys[1]] = (l0, l1, "0" * 32)
    node.down = MemoryDigests(city)
    before = OutboxEvent.objects.filter(stream=ZZ).count()

    # when
    run = reconcile_run(peer_code=ZZ)

    # then: the hub resends both down the city's stream as whole repairs carrying their type
    assert run.state == ReconcileRun.State.DONE
    assert run.differences == 2
    assert _repairs(run) == {("license", "down", "resent"): keys[:2]}
    sent = OutboxEvent.objects.filter(stream=ZZ).order_by("seq")[before:]
    assert [(e.kind, e.key) for e in sent] == [("license.repair", k) for k in keys[:2]]
    assert all(e.payload["type"]["type_code"] == pushed[0].license_type.type_code for e in sent)
    assert node.resends == []  # nothing to ask of the city for its own side

    # and once the city holds them as the hub does, a second run finds nothing
    node.down = licence_leaves(scope=HUB, keys=set(keys))
    OutboxEvent.objects.filter(stream=ZZ).update(state=OutboxEvent.State.ACKNOWLEDGED)
    again = reconcile_run(peer_code=ZZ)
    assert (again.differences, again.repairs) == (0, [])


def test_a_licence_still_on_its_way_down_is_not_a_difference(node, issuer, issue_payload):
    # given: a pushed licence whose event the city has not acknowledged yet
    _issue(issuer, issue_payload, "HUB0100")
    _mirror(node)
    count = OutboxEvent.objects.count()
    # when
    run = reconcile_run(peer_code=ZZ)
    # then
    assert (run.differences, run.repairs) == (0, [])
    assert OutboxEvent.objects.count() == count


def test_a_hub_licence_only_at_the_city_is_resent_if_the_hub_holds_it_else_flagged(
    node, issuer, issue_payload
):
    # given: the city holds a licence of the hub's the hub never pushed (issued before the
    # city's node was registered), and one the hub does not hold at all
    node.server  # noqa: B018 - the peer is registered
    lic = _issue(issuer, issue_payload, "HUB0200")
    OutboxEvent.objects.filter(stream=ZZ).delete()
    key = license_key(lic)
    city = licence_leaves(scope=HUB, keys={key}).leaves_by_base
    l0, l1, digest = city[key]
    ghost = key.rsplit(".", 1)[0] + ".99999999999"
    city[ghost] = (l0, l1, "1" * 32)
    node.down = MemoryDigests(city)
    _mirror(node)
    # when
    run = reconcile_run(peer_code=ZZ)
    # then
    assert _repairs(run) == {
        ("license", "down", "resent"): [key],
        ("license", "down", "flagged_orphan"): [ghost],
    }
    assert {"key": ghost, "kind": "orphan_at_node"} in run.flagged
    assert list(OutboxEvent.objects.filter(stream=ZZ).values_list("kind", "key")) == [
        ("license.repair", key)
    ]


# --- up: a city licence held only at the hub -----------------------------------------------------


def test_a_city_licence_only_at_the_hub_is_quarantined_only_when_the_city_never_sent_it(
    node, issuer, issue_payload, settings
):
    # given: three licences the hub holds under 郑州's code that 郑州 does not have: one arrived
    # on 郑州's stream (郑州 lost it since), one never did (written at the hub by hand), and one
    # that never did but has a file here
    settings.FEDERATION_PUSH_DOWN = False
    lost, never, filed = (_issue(issuer, issue_payload, f"ZZ{i:04d}") for i in range(3))
    License.objects.filter(pk__in=[lost.pk, never.pk, filed.pk]).update(library_code=ZZ)
    LicenseFile.objects.filter(license__in=[lost, never]).delete()
    assert LicenseFile.objects.filter(license=filed).exists()
    now = timezone.now()
    Arrival.objects.create(
        key=license_key(lost),
        library_code=ZZ,
        issuer_code=lost.issuer.code,
        mode="online",
        case_completed_at=now,
        committed_at=now,
        arrived_at=now,
        lag_seconds=0,
        deadline_at=now,
    )
    node.types = type_digests(ZZ)  # 郑州 holds none of them: its own digests are empty
    events = never.events.count()

    # when
    run = reconcile_run(peer_code=ZZ)

    # then: the one 郑州 never sent is moved out (kept for an operator), the others stay
    assert _repairs(run) == {
        ("license", "up", "quarantined"): [license_key(never)],
        ("license", "up", "flagged_lost_at_node"): [license_key(lost)],
        ("license", "up", "flagged_referenced"): [license_key(filed)],
    }
    assert not License.objects.filter(pk=never.pk).exists()
    assert License.objects.filter(pk__in=[lost.pk, filed.pk], library_code=ZZ).count() == 2
    held = QuarantinedRecord.objects.filter(license_id=never.pk)
    assert held.filter(kind="license", reason="federation.not_issued_by_owner").count() == 1
    assert held.filter(kind="event").count() == events
    assert not QuarantinedRecord.objects.exclude(license_id=never.pk).exists()
    assert filed.events.count() == events  # rolled back whole
    assert {"key": license_key(lost), "kind": "lost_at_node"} in run.flagged
    assert node.resends == []
    # a second run: the genuine one is flagged again, never removed
    again = reconcile_run(peer_code=ZZ)
    assert _repairs(again) == {
        ("license", "up", "flagged_lost_at_node"): [license_key(lost)],
        ("license", "up", "flagged_referenced"): [license_key(filed)],
    }


def test_an_unreachable_node_removes_nothing(node, issuer, issue_payload, settings):
    # given: a hub-only city licence, and a node that cannot be reached
    settings.FEDERATION_PUSH_DOWN = False
    lic = _issue(issuer, issue_payload, "ZZ0009")
    License.objects.filter(pk=lic.pk).update(library_code=ZZ)
    node.close()
    # when / then
    with pytest.raises(RetryableError):
        reconcile_run(peer_code=ZZ)
    assert License.objects.filter(pk=lic.pk).exists()
    assert not QuarantinedRecord.objects.exists()
    assert ReconcileRun.objects.get().state == ReconcileRun.State.FAILED


# --- up: the city's catalogue and files at the hub -----------------------------------------------


@pytest.fixture
def zz_type(db):
    """A type of 郑州's as the hub holds it."""
    agency = make_agency("郑州市市场监督管理局", body="00004001", area=ZZ, is_issuer=True)
    return make_type(make_user("zz_issuer", agency), seq=8, requires_review=False)


def test_a_type_altered_at_the_hub_is_resent_by_the_city(node, zz_type, admin):
    # given: the hub's copy of 郑州's type altered
    _mirror(node)
    LicenseType.objects.filter(pk=zz_type.pk).update(name="被改动的名称")
    # when
    run = reconcile_run(peer_code=ZZ)
    # then: 郑州 is asked to resend it (and nothing else)
    assert zz_type.type_code in node.types
    assert node.resends == [{"keys": [], "types": [zz_type.type_code]}]
    assert _repairs(run) == {("type", "up", "resent"): [zz_type.type_code]}
    assert run.differences == 1
    # the operators' API lists the run with its repairs
    (listed,) = admin.get("/api/v1/federation/reconciliations/").json()["results"]
    assert listed["repairs"] == [
        {
            "kind": "type",
            "direction": "up",
            "action": "resent",
            "count": 1,
            "keys": [zz_type.type_code],
        }
    ]


def test_a_type_only_at_the_hub_is_flagged_not_resent(node, zz_type):
    _mirror(node)
    node.types = {}
    run = reconcile_run(peer_code=ZZ)
    assert node.resends == []
    assert _repairs(run) == {("type", "up", "flagged_only_at_hub"): [zz_type.type_code]}


@pytest.mark.parametrize("damage", ["removed", "corrupted"])
def test_a_missing_or_corrupt_city_file_at_the_hub_is_fetched_again(
    node, django_capture_on_commit_callbacks, damage
):
    # given: a city file the hub fetched, then lost or damaged on disk
    sm3 = sm3_hex(PDF)
    node.files[sm3] = PDF
    row = RemoteFile.objects.create(
        node=ZZ,
        identifier="1.2.156.3005.2.X.Y.1.001.A",
        version=1,
        variant="original",
        sm3=sm3,
        size=len(PDF),
        next_attempt_at=timezone.now(),
    )
    assert remote_file_fetch(file_id=row.pk).state == RemoteFile.State.READY
    row.refresh_from_db()
    target = storage.files_root() / row.path
    if damage == "removed":
        target.unlink()
    else:
        target.write_bytes(PDF[:-5] + b"XXXXX")
    _mirror(node)

    # when
    with django_capture_on_commit_callbacks() as queued:
        run = reconcile_run(peer_code=ZZ)

    # then: found, its row back to pending with its fetch queued; the fetch (the task's
    # body) takes the bytes from the node again, whole
    assert _repairs(run) == {("file", "up", "refetched"): [f"{row.identifier}/original"]}
    row.refresh_from_db()
    assert (row.state, row.attempts, row.last_error.split(":")[0]) == (
        "pending",
        0,
        "federation.file_missing" if damage == "removed" else "federation.file_corrupt",
    )
    assert len(queued) == 1
    assert remote_file_fetch(file_id=row.pk).state == RemoteFile.State.READY
    row.refresh_from_db()
    assert sm3_hex((storage.files_root() / row.path).read_bytes()) == sm3
    assert (reconcile_run(peer_code=ZZ).differences, run.differences) == (0, 1)


def fetched_files(node, count, tag):
    """`count` city files the hub has fetched (ready rows, bytes on disk)."""
    rows = []
    for n in range(count):
        pdf = PDF + tag.encode() + bytes([n])
        node.files[sm3_hex(pdf)] = pdf
        row = RemoteFile.objects.create(
            node=ZZ,
            identifier=f"1.2.156.3005.2.X.{tag}.{n + 1}.001.A",
            version=1,
            variant="original",
            sm3=sm3_hex(pdf),
            size=len(pdf),
            next_attempt_at=timezone.now(),
        )
        assert remote_file_fetch(file_id=row.pk).state == RemoteFile.State.READY
        row.refresh_from_db()
        rows.append(row)
    return rows


def test_the_file_audit_checks_a_bounded_slice_each_run_oldest_first(node):
    """A city's million files are checked a slice a run (AUDIT_PER_RUN), never-checked and
    longest-ago first, so every file is checked in turn and damage is found on its turn."""
    rows = fetched_files(node, 3, "Y")
    (storage.files_root() / rows[2].path).write_bytes(b"damaged")
    # when: two files a run
    assert remote_file_audit(node=ZZ, limit=2) == []  # the first two: sound
    audited = dict(RemoteFile.objects.values_list("pk", "audited_at"))
    assert audited[rows[2].pk] is None and audited[rows[0].pk] and audited[rows[1].pk]
    # then: the next run takes the one never checked first, and finds it damaged
    assert remote_file_audit(node=ZZ, limit=1) == [f"{rows[2].identifier}/original"]
    rows[2].refresh_from_db()
    assert rows[2].state == "pending" and rows[2].last_error.startswith("federation.file_corrupt")
    # and after it, the one checked longest ago
    remote_file_audit(node=ZZ, limit=1)
    after = dict(RemoteFile.objects.values_list("pk", "audited_at"))
    assert after[rows[0].pk] > audited[rows[0].pk] and after[rows[1].pk] == audited[rows[1].pk]


def test_leaves_of_pushed_licences_are_read_by_their_keys_a_chunk_at_a_time(
    issuer, issue_payload, monkeypatch
):
    """The downward comparison reads the hub's licences named by the keys it pushed, by their
    natural keys, a chunk at a time: it read every licence of their issuers at once."""
    for n in range(5):
        created = issuer.post(
            "/api/v1/licenses/", issue_payload(number=f"JY141010000700{n:02d}"), format="json"
        )
        assert created.status_code == 201, created.json()
    hub = settings.LIBRARY_CODE
    keys = sorted(license_key(lic) for lic in License.objects.filter(library_code=hub))
    monkeypatch.setattr(digests, "LEAVES_CHUNK", 2)
    chunks = []
    by_key = digests.licences_by_natural_key

    def reading(keys):  # type: ignore[no-untyped-def]
        chunks.append(len(keys))
        return by_key(keys)

    monkeypatch.setattr(digests, "licences_by_natural_key", reading)
    wanted = set(keys[:3])
    read = licence_leaves(scope=hub, keys=wanted)
    assert set(read.leaves_by_base) == wanted  # not the other two of the same issuer
    assert chunks == [2, 1]  # by their keys, two at a time


def test_history_all_names_every_released_licence_of_the_library(issuer, issue_payload):
    from provincial_hub.aggregation.reconciliation import history_suspects

    for n in range(3):
        created = issuer.post(
            "/api/v1/licenses/", issue_payload(number=f"JY141010000800{n:02d}"), format="json"
        )
        assert created.status_code == 201, created.json()
    hub = settings.LIBRARY_CODE
    expected = sorted(license_key(lic) for lic in License.objects.filter(library_code=hub))
    assert len(expected) == 3
    assert history_suspects(scope=hub, mode="all") == expected
    assert history_suspects(scope=hub, mode="none") == []


@pytest.mark.django_db(transaction=True)
def test_the_file_audit_skips_a_row_a_fetch_holds_instead_of_waiting(node):
    """CI saw the audit's update of many rows deadlock against the fetch worker updating
    one of them: rows another transaction holds are left for their next turn."""
    from django.db import connections, transaction

    rows = fetched_files(node, 2, "Z")
    held, release, failed = threading.Event(), threading.Event(), []

    def fetch_holding_the_row() -> None:
        try:
            with transaction.atomic():
                RemoteFile.objects.select_for_update().get(pk=rows[0].pk)
                held.set()
                release.wait(30)
        except Exception as exc:  # noqa: BLE001 - the assertion shows it
            failed.append(exc)
            held.set()
        finally:
            connections.close_all()

    thread = threading.Thread(target=fetch_holding_the_row)
    thread.start()
    try:
        assert held.wait(10)
        assert remote_file_audit(node=ZZ) == []  # does not wait for the held row
    finally:
        release.set()
        thread.join(30)
    assert failed == []
    audited = dict(RemoteFile.objects.values_list("pk", "audited_at"))
    assert audited[rows[0].pk] is None and audited[rows[1].pk] is not None
