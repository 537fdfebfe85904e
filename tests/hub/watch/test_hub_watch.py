"""The holder watch at the hub (issue #14 item 5): a city registers watches for its own holders
only, and only the watch's home cancels it; every licence issued or changed in any city (real
signed envelopes) and every access record the hub chains about a watched holder's licence is
one hit, sent home once as `watch.alert` in the same transaction; other holders, and what
happened before the watch, are not matched; a watch made at the hub's own portal is told here."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from provincial_hub.watch.models import WatchHit
from shared.access import log
from shared.access.models import AccessRecord
from shared.access.portal import holder_create
from shared.access.services import access_record
from shared.core.holder_codes import holder_code_digest
from shared.crypto.suites import get_suite
from shared.exchange.envelopes import seal
from shared.federation import ingest
from shared.federation.ingest import _apply_one
from shared.federation.keys import peer_register
from shared.federation.models import OutboxEvent, RejectedEvent
from shared.licenses.models import License
from shared.watch.models import Watch, WatchAlert
from shared.watch.services import watch_subscribe
from tests.support import issued_events, make_agency, make_type, make_uscc, make_user, token_client

pytestmark = pytest.mark.django_db
ZZ, LY, HUB = "410100", "410300", "410000"
WATCH_ID = "6d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6"
ZZ_CODE = make_uscc(dept="91", area=ZZ, body="WATCH001")
OTHER_CODE = make_uscc(dept="91", area=ZZ, body="WATCH002")


class City:
    """A city's exchange key registered at the hub; its envelopes are numbered from 1."""

    def __init__(self, code):
        self.code, self.suite, self.seq = code, get_suite("gm"), 0
        self.key = self.suite.generate_key()
        public = self.suite.public_key_of(self.key)
        self.kid = self.suite.key_id(public)
        peer_register(
            code=code,
            kid=self.kid,
            public_key_pem=self.suite.public_key_to_pem(public).decode(),
            base_url="http://127.0.0.1:9",
        )

    def send(self, anon, events):
        numbered = []
        for event in events:
            self.seq += 1
            numbered.append(dict(event, seq=self.seq))
        envelope = seal(
            key=self.key,
            kid=self.kid,
            sender=self.code,
            receiver=HUB,
            stream=HUB,
            events=numbered,
            now=timezone.now(),
        )
        response = anon.post("/api/v1/exchange/envelopes/", envelope, format="json")
        assert response.status_code == 200, response.json()
        return response.json()


@pytest.fixture
def zhengzhou(db):
    return City(ZZ)


@pytest.fixture
def luoyang(db):
    city = City(LY)
    agency = make_agency("洛阳市市场监督管理局", body="00003001", area=LY, is_issuer=True)
    user = make_user("ly_issuer", agency)
    city.type = make_type(user, seq=7, requires_review=False)
    city.client = token_client(user)
    return city


def subscription(code=ZZ_CODE, watch_id=WATCH_ID, since=None):
    since = since or timezone.now() - timedelta(minutes=1)
    return {
        "schema": 1,
        "watch": {
            "id": watch_id,
            "holder": {"name": "郑州豫中食品有限公司", "code": code, "code_type": "001"},
            "since": since.isoformat(),
        },
    }


def deliver(sender, kind, payload, seq=1):
    return _apply_one(sender, {"seq": seq, "kind": kind, "key": "k", "payload": payload})


def licence_events(city, issue_payload, *holders):
    bodies = [
        issue_payload(
            type_code=city.type.type_code,
            number=f"LY{n:06d}",
            holder={"name": f"持证企业{n}", "code": code, "code_type": "001"},
        )
        for n, code in enumerate(holders)
    ]
    return issued_events(city.client, bodies, library_code=city.code)


def alerts_down():
    return list(
        OutboxEvent.objects.filter(kind="watch.alert").values_list("stream", "key", "payload")
    )


def test_a_city_registers_a_watch_for_its_own_holder_once(zhengzhou):
    # when: 郑州 subscribes for a 郑州 holder, twice (a redelivery)
    assert deliver(ZZ, "watch.subscribe", subscription()) is None
    assert deliver(ZZ, "watch.subscribe", subscription(), seq=2) is None
    # then: one active watch, home 郑州, keyed by the hub's own digest of the code
    watch = Watch.objects.get()
    assert (str(watch.pk), watch.home_library, watch.state) == (WATCH_ID, ZZ, "active")
    assert watch.holder_code_digest == holder_code_digest(ZZ_CODE)
    assert watch.holder_code == ZZ_CODE


def test_a_city_cannot_watch_another_citys_holder_nor_cancel_its_watch(zhengzhou, luoyang):
    # when: 洛阳 subscribes for a 郑州 holder
    error = deliver(LY, "watch.subscribe", subscription())
    # then: refused, nothing written
    assert error["code"] == "federation.not_owner"
    assert not Watch.objects.exists()
    assert RejectedEvent.objects.filter(sender=LY, kind="watch.subscribe").count() == 1
    # and when 郑州's watch exists, 洛阳 cannot cancel it, nor take its id
    deliver(ZZ, "watch.subscribe", subscription())
    cancel = {"schema": 1, "watch": {"id": WATCH_ID, "cancelled_at": None}}
    assert deliver(LY, "watch.cancel", cancel, seq=2)["code"] == "federation.not_owner"
    ly_code = make_uscc(dept="91", area=LY, body="WATCH003")
    taken = deliver(LY, "watch.subscribe", subscription(code=ly_code), seq=3)
    assert taken["code"] == "federation.not_owner"
    assert list(Watch.objects.values_list("home_library", "state")) == [(ZZ, "active")]
    # but 郑州 cancels its own
    assert deliver(ZZ, "watch.cancel", cancel, seq=4) is None
    assert Watch.objects.get().state == "cancelled"


def test_a_luoyang_licence_of_a_zhengzhou_holder_goes_home_once(
    anon, zhengzhou, luoyang, issue_payload
):
    # given: 郑州's watch on ZZ_CODE
    deliver(ZZ, "watch.subscribe", subscription())
    events = licence_events(luoyang, issue_payload, ZZ_CODE, OTHER_CODE)
    # when: 洛阳 delivers the two licences (the COPY fast path)
    assert luoyang.send(anon, events)["applied"] == 2
    # then: one hit, for the watched holder's licence, sent down to 郑州
    identifier = events[0]["payload"]["license"]["identifier"]
    hit = WatchHit.objects.get()
    assert (hit.kind, hit.identifier, hit.library_code) == ("issued", identifier, LY)
    [(stream, key, payload)] = alerts_down()
    assert (stream, key) == (ZZ, WATCH_ID)
    alert = payload["alert"]
    assert alert["id"] == hit.pk
    assert (alert["library_code"], alert["library_name"]) == (LY, "洛阳市电子证照库")
    assert alert["issuer_name"] == "洛阳市市场监督管理局"
    assert (alert["kind"], alert["action"], alert["type_name"]) == (
        "issued",
        "issue",
        luoyang.type.name,
    )
    # when: the same licence comes again as 洛阳's reconciliation repair of the same event
    repair = {
        "kind": "license.repair",
        "key": events[0]["key"],
        "payload": {**events[0]["payload"], "events": [events[0]["payload"]["event"]]},
    }
    repair["payload"]["versions"] = [events[0]["payload"]["version"]]
    assert luoyang.send(anon, [repair])["rejected"] == []
    # then: still one hit and one alert
    assert WatchHit.objects.count() == 1
    assert len(alerts_down()) == 1
    assert License.objects.filter(identifier=identifier).count() == 1


def test_a_change_is_a_hit_and_a_licence_before_the_watch_is_not(
    anon, zhengzhou, luoyang, issue_payload
):
    # given: a watch from now on, and a licence issued (at 洛阳) an hour before it
    events = licence_events(luoyang, issue_payload, ZZ_CODE)
    snap_event = events[0]["payload"]["event"]
    snap_event["created_at"] = (timezone.now() - timedelta(hours=1)).isoformat()
    deliver(ZZ, "watch.subscribe", subscription(since=timezone.now()))
    # when: it arrives
    luoyang.send(anon, events)
    # then: no hit (it happened before the watch)
    assert not WatchHit.objects.exists()
    # when: 洛阳 suspends it now
    changed = {
        **events[0],
        "payload": {
            **events[0]["payload"],
            "license": {
                **events[0]["payload"]["license"],
                "status": "suspended",
                "last_event_seq": 2,
            },
            "event": {
                **snap_event,
                "seq": 2,
                "action": "suspend",
                "from_status": "valid",
                "to_status": "suspended",
                "created_at": timezone.now().isoformat(),
            },
            "version": None,
        },
    }
    assert luoyang.send(anon, [changed])["rejected"] == []
    # then: one "changed" hit, labelled as the action
    [(_, _, payload)] = alerts_down()
    assert (payload["alert"]["kind"], payload["alert"]["action_label"]) == ("changed", "暂扣")


def test_an_access_record_about_a_watched_licence_is_one_hit(
    zhengzhou, luoyang, anon, issue_payload, consumer_user
):
    # given: 郑州's watch and 洛阳's licence of the holder at the hub
    deliver(ZZ, "watch.subscribe", subscription())
    luoyang.send(anon, licence_events(luoyang, issue_payload, ZZ_CODE, OTHER_CODE))
    before = len(alerts_down())
    watched, other = (
        License.objects.get(holder_code_digest=holder_code_digest(c)) for c in (ZZ_CODE, OTHER_CODE)
    )
    # when: a consumer at the hub uses both licences and the log is chained (twice)
    for lic in (watched, other):
        access_record(
            user=consumer_user,
            operation=AccessRecord.Operation.VERIFY,
            matter_code="M0001",
            use_cause="办理食品经营许可变更，核验原证",
            licenses=[lic],
            outcome=AccessRecord.Outcome.ALLOWED,
        )
    log.log_sequence()
    log.log_sequence()
    # then: one "queried" hit, for the watched holder's licence, naming the consumer
    hit = WatchHit.objects.get(kind="queried")
    assert hit.identifier == watched.identifier
    new = alerts_down()[before:]
    assert len(new) == 1
    alert = new[0][2]["alert"]
    assert (alert["agency_name"], alert["action"], alert["library_code"]) == (
        consumer_user.agency.name,
        "verify",
        LY,
    )


def test_a_watch_made_at_the_hub_is_told_here(issuer, issue_payload, notify_calls):
    # given: a holder of the hub's portal with a watch (a provincial issuer issues here)
    holder, _ = holder_create(
        username="holder_hub",
        password="Holder-12345",
        display_name="郑州豫中食品有限公司",
        holder_code=ZZ_CODE,
        holder_code_type="001",
    )
    watch = watch_subscribe(holder=holder)
    assert watch.home_library == HUB
    # when: the hub issues a licence under that identity, and one for another holder
    for n, code in enumerate((ZZ_CODE, OTHER_CODE)):
        body = issue_payload(
            number=f"HUB{n:05d}", holder={"name": "某企业", "code": code, "code_type": "001"}
        )
        assert issuer.post("/api/v1/licenses/", body, format="json").status_code == 201
    # then: one alert stored here, nothing sent down, and the holder told once
    alert = WatchAlert.objects.get()
    assert (alert.kind, alert.origin_library, alert.library_code) == ("issued", HUB, HUB)
    assert alerts_down() == []
    assert [(c["event"], c["users"]) for c in notify_calls] == [("watch.alert", ["holder_hub"])]
    assert notify_calls[0]["dedupe_key"] == f"watch.alert:{HUB}:{alert.origin_id}"


def test_a_subscription_with_a_bad_id_is_dead_lettered(zhengzhou):
    payload = subscription(watch_id="not-a-uuid")
    assert deliver(ZZ, "watch.subscribe", payload)["code"] == "federation.payload_invalid"
    assert not Watch.objects.exists()
    # and a well-formed id from the right city is taken
    assert deliver(ZZ, "watch.subscribe", subscription(watch_id=str(uuid.uuid4())), seq=2) is None


def test_a_failing_listener_does_not_stall_the_citys_stream(
    anon, zhengzhou, luoyang, issue_payload, caplog
):
    # given: a listener of applied events that fails (a bug in a matcher)
    def boom(sender, events):
        Watch.objects.create(
            home_library="410999",
            holder_code_type="001",
            since=timezone.now(),
            holder_code_enc=b"x",
            holder_code_digest="x",
        )
        raise RuntimeError("matcher bug")

    ingest.applied_listener_register(boom)
    try:
        # when: 洛阳 delivers a licence
        events = licence_events(luoyang, issue_payload, ZZ_CODE)
        result = luoyang.send(anon, events)
    finally:
        ingest._applied_listeners.remove(boom)
    # then: the licence is applied and the mark advanced; the listener's writes rolled back
    assert (result["applied"], result["high_water_mark"]) == (1, 1)
    identifier = events[0]["payload"]["license"]["identifier"]
    assert License.objects.filter(identifier=identifier).count() == 1
    assert not Watch.objects.exists()
    assert "ingest.applied_listener_failed" in caplog.text


def test_an_access_append_looks_up_only_its_own_digests_among_the_watches(
    django_capture_on_commit_callbacks,
):
    """Every access append at the hub asks whether a watch is for its holders: by those
    digests only (watches may be hundreds of thousands; it read every one of them)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from provincial_hub.watch import matching

    for n in range(3):
        Watch.objects.create(
            home_library="410100",
            holder_code_type="001",
            since=timezone.now(),
            holder_code_enc=b"x",
            holder_code_digest=f"watched{n}",
        )
    row = AccessRecord(identifier="1.2.X", holder_digest="watched1")
    other = AccessRecord(identifier="1.2.Y", holder_digest="nobody")
    with django_capture_on_commit_callbacks() as asked, CaptureQueriesContext(connection) as seen:
        matching.records_appended([other])
    assert asked == []
    [query] = [q["sql"] for q in seen if "watch_watch" in q["sql"]]
    assert "IN ('nobody')" in query  # the appended rows' digests, not every watch
    with django_capture_on_commit_callbacks() as asked:
        matching.records_appended([row, other])
    assert len(asked) == 1  # the sequencer is asked for soon
