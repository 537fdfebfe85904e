"""Issue #13 at a city node: a consumer's query or verify of a licence the node does not hold
goes to the hub (here: a hub that is down or does not answer gives 503 at once; the real round
trip is tests/federation/province/test_query.py), a licence held here is answered here, and
the hub's `access.record` about one of this city's licences joins the log once."""

import socket
import threading
import time
import uuid

import pytest
from django.utils import timezone

from shared.access import log
from shared.access.models import AccessRecord
from shared.access.portal import holder_create
from shared.core.errors import PermanentError
from shared.federation.apply import HANDLERS
from shared.federation.keys import export_public, peer_register
from shared.federation.ownership import NotOwnerError
from shared.licenses.models import License
from tests.shared.access.conftest import *  # noqa: F403
from tests.shared.access.conftest import MATTER

pytestmark = pytest.mark.django_db

HUB = "410000"
CAUSE = "办理跨市迁入登记，核验原证"


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def hub_at(db):
    def register(base_url):
        key = export_public()  # any valid key: this node only calls out to the hub here
        peer_register(
            code=HUB, kid=key["kid"], public_key_pem=key["public_key_pem"], base_url=base_url
        )

    return register


@pytest.fixture
def silent_hub():
    """A hub that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted = []
    stop = threading.Event()

    def serve():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}", accepted
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    server.close()


def nobody_body(query_body):
    from tests.support import make_uscc

    return query_body(
        holder={"code": make_uscc(dept="91", area="410300", body="MA9Y9Y9Y"), "code_type": "001"}
    )


def test_without_a_hub_the_query_is_answered_here(consumer, granted_consumer, query_body):
    response = consumer.post("/api/v1/share/query/", nobody_body(query_body), format="json")
    assert response.status_code == 200
    assert "forwarded_to" not in response.json()
    assert response.json()["count"] == 0


def test_a_hub_that_is_down_answers_503_with_retry_advice(
    consumer, granted_consumer, query_body, hub_at
):
    # given: the hub is registered but nothing listens at its address
    hub_at(f"http://127.0.0.1:{closed_port()}")
    # when: the holder has nothing here
    started = time.monotonic()
    response = consumer.post("/api/v1/share/query/", nobody_body(query_body), format="json")
    # then
    assert time.monotonic() - started < 3
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    body = response.json()
    assert body["code"] == "federation.hub_unavailable"
    assert "省级枢纽暂时无法应答" in body["message"]
    record = AccessRecord.objects.get()
    assert (record.outcome, record.reason_code, record.detail["forwarded_to"]) == (
        "refused",
        "federation.hub_unavailable",
        HUB,
    )


def test_a_hub_that_does_not_answer_times_out_quickly(
    settings, consumer, granted_consumer, licence, query_body, hub_at, silent_hub
):
    url, accepted = silent_hub
    hub_at(url)
    settings.FEDERATION_QUERY_TIMEOUT = (0.5, 0.5)
    # when: a verify of an identifier not held here, and a province-wide query
    started = time.monotonic()
    verify = consumer.post(
        "/api/v1/share/verify/",
        {
            "identifier": licence.identifier.replace("410100", "410300"),
            "matter_code": MATTER,
            "use_cause": CAUSE,
        },
        format="json",
    )
    query = consumer.post("/api/v1/share/query/", query_body(scope="province"), format="json")
    # then: the hub was asked twice and neither call hung
    assert time.monotonic() - started < 4
    assert [verify.status_code, query.status_code] == [503, 503]
    assert len(accepted) == 2
    assert {r.reason_code for r in AccessRecord.objects.all()} == {"federation.hub_unavailable"}


def test_a_licence_held_here_is_answered_here_with_the_hub_down(
    consumer, granted_consumer, licence, query_body, hub_at
):
    hub_at(f"http://127.0.0.1:{closed_port()}")
    query = consumer.post("/api/v1/share/query/", query_body(), format="json")
    verify = consumer.post(
        "/api/v1/share/verify/",
        {"identifier": licence.identifier, "matter_code": MATTER, "use_cause": CAUSE},
        format="json",
    )
    assert query.status_code == 200
    assert [r["identifier"] for r in query.json()["results"]] == [licence.identifier]
    assert "forwarded_to" not in query.json()
    assert verify.json()["info_result"]["code"] == 0
    assert "forwarded_to" not in verify.json()


def test_the_caller_checks_come_first_and_nothing_is_forwarded(
    consumer, granted_consumer, query_body, hub_at, silent_hub
):
    url, accepted = silent_hub
    hub_at(url)
    response = consumer.post(
        "/api/v1/share/query/", nobody_body(query_body) | {"matter_code": " "}, format="json"
    )
    assert response.status_code in (400, 403)
    assert accepted == []


# --- the hub's records come down ---------------------------------------------------------------


def hub_record(lic, *, record_id=41, **changes):
    content = {
        "request_id": str(uuid.uuid4()),
        "library_code": HUB,
        "occurred_at": timezone.now(),
        "user_ref": None,
        "username": "c410300_zwzx_1（410300）",
        "agency_code": "11410300MB0002009X",
        "agency_name": "洛阳市政务服务中心",
        "operation": "query",
        "outcome": "allowed",
        "reason_code": "",
        "matter_code": MATTER,
        "use_cause": CAUSE,
        "identifier": lic.identifier,
        "type_code": lic.license_type.type_code,
        "issuer_code": lic.issuer.code,
        "source_library": "410100",
        "holder_digest": "digest-under-the-hubs-key",
        "holder_code_type": lic.holder_code_type,
        "detail": {"forwarded_by": "410300", "user_ref": 7},
    }
    leaf = log.content_leaf_hash(content)
    content["occurred_at"] = content["occurred_at"].isoformat()
    return {
        "schema": 1,
        "record": content | {"id": record_id, "seq": 9, "leaf_hash": leaf} | changes,
    }


apply = HANDLERS["access.record"]


def test_a_hub_record_joins_the_log_once_and_the_chain_verifies(
    licence, issuer, holder_code, client
):
    payload = hub_record(licence)
    # when: delivered twice
    first = apply(payload, sender=HUB)
    second = apply(payload, sender=HUB)
    # then: once, marked as the hub's, with this library's holder digest
    assert second is None
    held = AccessRecord.objects.get()
    assert held.pk == first.pk
    assert (held.origin_library, held.origin_id, held.library_code) == (HUB, 41, HUB)
    assert held.holder_digest == licence.holder_code_digest
    # and the issuer's usage view and CSV list it
    rows = issuer.get("/api/v1/access-log/", {"identifier": licence.identifier}).json()["results"]
    assert [(r["origin_library"], r["agency_code"]) for r in rows] == [(HUB, "11410300MB0002009X")]
    csv = b"".join(issuer.get("/api/v1/access-log/export/").streaming_content).decode()
    assert "记录来源库" in csv and ",410100,410000," in csv
    # and the holder's 谁使用了我的证照
    holder, _ = holder_create(
        username="holder_yz",
        password="Holder-12345",
        display_name="郑州豫中食品有限公司",
        holder_code=holder_code,
        holder_code_type="001",
        totp_key="3132333435363738393031323334353637383930",
    )
    from shared.access.portal import holder_accesses

    assert [a.pk for a in holder_accesses(holder=holder)] == [held.pk]
    # and this library's chain, with the imported record in it, verifies
    log.checkpoint_create()
    assert AccessRecord.objects.get().seq == 1
    assert log.log_verify().ok


@pytest.mark.parametrize(
    ("sender", "change", "error"),
    [
        ("410300", {}, NotOwnerError),  # only the hub sends records down
        (HUB, {"source_library": "410300"}, NotOwnerError),  # about another city's licence
        (HUB, {"identifier": "1.2.156.3005.2.unknown"}, NotOwnerError),  # not held here
        (HUB, {"use_cause": "改写"}, PermanentError),  # content that is not what was hashed
    ],
    ids=["not-the-hub", "other-city", "unknown-licence", "corrupt"],
)
def test_a_bad_record_is_refused_and_nothing_is_written(licence, sender, change, error):
    with pytest.raises(error):
        apply(hub_record(licence, **change), sender=sender)
    assert not AccessRecord.objects.exists()


def test_a_record_about_a_licence_the_hub_pushed_down_is_refused(licence):
    # a licence the hub issued (library 410000) is the hub's, not this city's
    License.objects.filter(pk=licence.pk).update(library_code=HUB)
    with pytest.raises(NotOwnerError):
        apply(hub_record(licence), sender=HUB)
    assert not AccessRecord.objects.exists()
