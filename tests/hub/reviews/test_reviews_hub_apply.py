"""At the hub: a city's review requests arrive as `review.update` events in signed envelopes
and are mirrored (requester null, attachments as metadata); only the city that owns the request
and the licence may change it; an older revision never overwrites a newer one; a request about
a licence the hub does not hold is dead-lettered; the bulk (COPY) paths leave these events to
the per-event path. The hub's own beat and answers leave the mirrors alone.

Envelopes are real: signed in-process with keys registered for 郑州 (410100) and 洛阳 (410300),
posted to `/api/v1/exchange/envelopes/` as a node's relay would.
"""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from shared.federation import bulk_apply
from shared.federation.apply import HANDLERS
from shared.federation.models import OutboxEvent, RejectedEvent
from shared.licenses.models import License
from shared.reviews import sync
from shared.reviews.deadlines import review_sweep
from shared.reviews.models import ReviewAttachment, ReviewRequest
from tests.hub.test_hardening_federation import HUB, LY, ZZ, City, numbered, post
from tests.shared.reviews.conftest import CAUSE, REASON
from tests.support import issued_events, make_uscc

pytestmark = pytest.mark.django_db


@pytest.fixture
def zhengzhou(db):
    return City(ZZ)


@pytest.fixture
def luoyang(db):
    return City(LY)


@pytest.fixture
def zz_lic(issuer, issue_payload):
    """A licence the hub holds for 郑州, as if it had arrived on 郑州's stream."""
    response = issuer.post("/api/v1/licenses/", issue_payload(number="ZZ000001"), format="json")
    assert response.status_code == 201, response.content
    License.objects.filter(identifier=response.json()["identifier"]).update(library_code=ZZ)
    return License.objects.get(identifier=response.json()["identifier"])


def snapshot(lic, **overrides):
    """A review as 郑州's node sends it (`shared.reviews.sync.review_snapshot`)."""
    received = timezone.now() - timedelta(days=1)
    snap = {
        "id": str(uuid.uuid4()),
        "library_code": ZZ,
        "identifier": lic.identifier,
        "type_code": lic.license_type.type_code,
        "issuer_code": lic.issuer.code,
        "requester_kind": "agency",
        "requester_agency_code": make_uscc(dept="11", area=ZZ, body="00002001"),
        "matter_code": "M0001",
        "use_cause": CAUSE,
        "fields": ["经营项目"],
        "reason": REASON,
        "received_at": received.isoformat(),
        "deadline": (received.date() + timedelta(days=7)).isoformat(),
        "deadline_provisional": False,
        "state": "open",
        "answered_at": None,
        "answer_reason": "",
        "corrected_identifier": "",
        "answered_late": False,
        "overdue": False,
        "reminders_sent": 0,
        "revision": 1,
        "attachments": [
            {
                "name": "证明.pdf",
                "content_type": "application/pdf",
                "size": 15,
                "sm3": "a" * 64,
                "sha256": "b" * 64,
            }
        ],
    }
    return snap | overrides


def event(snap):
    return {"kind": "review.update", "key": snap["id"], "payload": {"schema": 1, "review": snap}}


def test_the_hubs_own_requests_stay_here_and_match_what_cities_send(filed, zz_lic):
    """The hub is a library too: its own requests are filed here and go nowhere (no stream);
    what a city sends has the same fields as this library's own snapshot."""
    review = ReviewRequest.objects.get(pk=filed["id"])
    assert review.library_code == HUB
    assert not OutboxEvent.objects.filter(kind="review.update").exists()
    assert set(snapshot(zz_lic)) == set(sync.review_snapshot(review))


def test_a_citys_request_is_mirrored_without_people_or_file_content(
    anon, zhengzhou, zz_lic, issuer, supervisor
):
    snap = snapshot(zz_lic)
    # when
    response = post(anon, zhengzhou.envelope(numbered([event(snap)])))
    # then
    assert response.status_code == 200, response.json()
    assert (response.json()["applied"], response.json()["rejected"]) == (1, [])
    mirror = ReviewRequest.objects.get(pk=snap["id"])
    assert (mirror.library_code, mirror.license_id, mirror.issuer_id) == (
        ZZ,
        zz_lic.pk,
        zz_lic.issuer_id,
    )
    assert (mirror.requester, mirror.requester_agency_code, mirror.revision) == (
        None,
        snap["requester_agency_code"],
        1,
    )
    [attachment] = ReviewAttachment.objects.filter(review=mirror)
    assert (attachment.name, attachment.sm3, attachment.content) == ("证明.pdf", "a" * 64, None)
    # the supervisor reads it; the file itself stays at the city
    seen = supervisor.get(f"/api/v1/reviews/{snap['id']}/").json()
    assert seen["attachments"][0]["held"] is False and seen["library_code"] == ZZ
    got = issuer.get(f"/api/v1/reviews/{snap['id']}/attachments/{attachment.pk}/")
    assert got.status_code == 404 and got.json()["code"] == "review.attachment_not_held"


def test_an_older_revision_never_overwrites_a_newer_one(anon, zhengzhou, zz_lic):
    opened = snapshot(zz_lic)
    answered = opened | {
        "state": "rejected",
        "answer_reason": "经核实无误",
        "answered_at": timezone.now().isoformat(),
        "revision": 3,
    }
    reminded = opened | {"reminders_sent": 1, "revision": 2}
    events = numbered([event(opened), event(answered), event(reminded)])
    response = post(anon, zhengzhou.envelope(events))
    assert response.status_code == 200 and response.json()["rejected"] == []
    mirror = ReviewRequest.objects.get(pk=opened["id"])
    assert (mirror.state, mirror.revision, mirror.reminders_sent) == ("rejected", 3, 0)
    assert ReviewAttachment.objects.filter(review=mirror).count() == 1  # not duplicated


def test_a_city_cannot_file_or_change_another_citys_requests(
    anon, zhengzhou, luoyang, zz_lic, supervisor
):
    # given: 郑州's request, mirrored
    held = snapshot(zz_lic)
    assert post(anon, zhengzhou.envelope(numbered([event(held)]))).json()["applied"] == 1
    forged = [
        held | {"state": "confirmed", "revision": 9},  # honest about whose it is
        held | {"library_code": LY, "state": "confirmed", "revision": 9},  # lying
        snapshot(zz_lic, library_code=LY),  # a new one, about 郑州's licence
    ]
    # when: 洛阳 signs them with its own valid key
    response = post(anon, luoyang.envelope(numbered([event(s) for s in forged])))
    # then: refused, dead-lettered against 洛阳, nothing changed
    assert response.status_code == 200, response.json()
    assert [r["code"] for r in response.json()["rejected"]] == ["federation.not_owner"] * 3
    assert response.json()["high_water_mark"] == 3
    mirror = ReviewRequest.objects.get(pk=held["id"])
    assert (mirror.state, mirror.revision, mirror.library_code) == ("open", 1, ZZ)
    assert ReviewRequest.objects.count() == 1
    dead = RejectedEvent.objects.filter(sender=LY).order_by("seq")
    assert [(d.seq, d.kind, d.error_code) for d in dead] == [
        (n, "review.update", "federation.not_owner") for n in (1, 2, 3)
    ]


def test_the_handler_refuses_before_writing(zz_lic):
    with pytest.raises(Exception) as refused:
        HANDLERS["review.update"]({"schema": 1, "review": snapshot(zz_lic)}, sender=LY)
    assert refused.value.code == "federation.not_owner"
    assert not ReviewRequest.objects.exists()


def test_unknown_licences_and_bad_payloads_are_dead_letters(anon, zhengzhou, zz_lic):
    unknown = snapshot(zz_lic, identifier=zz_lic.identifier[:-5] + "009.X")
    bogus = snapshot(zz_lic, state="withdrawn")
    not_an_id = snapshot(zz_lic, id="not-a-uuid")
    good = snapshot(zz_lic)
    events = numbered([event(unknown), event(bogus), event(not_an_id), event(good)])
    response = post(anon, zhengzhou.envelope(events))
    assert response.status_code == 200, response.json()
    body = response.json()
    assert [(r["seq"], r["code"]) for r in body["rejected"]] == [
        (1, "review.license_unknown"),
        (2, "review.payload_invalid"),
        (3, "federation.payload_invalid"),
    ]
    assert (body["applied"], body["high_water_mark"]) == (1, 4)
    assert list(ReviewRequest.objects.values_list("pk", flat=True)) == [uuid.UUID(good["id"])]


def _new_licence_events(client, issue_payload, count):
    """`license.event` issues of licences the hub then lacks (the transaction is undone)."""
    bodies = [
        issue_payload(
            number=f"NEW{i:06d}",
            holder={
                "name": f"新证持有人{i}",
                "code": make_uscc(dept="91", area=ZZ, body=f"RW{i:06d}"),
                "code_type": "001",
            },
        )
        for i in range(count)
    ]
    return issued_events(client, bodies, library_code=ZZ)


def test_the_bulk_paths_leave_review_updates_to_the_per_event_path(
    anon, zhengzhou, zz_lic, issuer, issue_payload
):
    reviews = numbered([event(snapshot(zz_lic)), event(snapshot(zz_lic))], start=10)
    assert bulk_apply.apply_new_licences(reviews, ZZ) == set()
    assert bulk_apply.apply_repairs(reviews, ZZ) == set()
    assert not ReviewRequest.objects.exists()
    # an envelope of new licences (the COPY path) and a request about one of them
    new = _new_licence_events(issuer, issue_payload, 2)
    identifier = new[0]["payload"]["license"]["identifier"]
    review = snapshot(zz_lic, identifier=identifier)
    response = post(anon, zhengzhou.envelope(numbered([*new, event(review)])))
    assert response.status_code == 200, response.json()
    assert (response.json()["applied"], response.json()["rejected"]) == (3, [])
    mirror = ReviewRequest.objects.get(pk=review["id"])
    assert mirror.license.identifier == identifier


def test_the_hub_leaves_the_mirrors_to_their_city(anon, zhengzhou, zz_lic, issuer):
    past = timezone.now() - timedelta(days=30)
    snap = snapshot(
        zz_lic, received_at=past.isoformat(), deadline=(past.date() + timedelta(days=7)).isoformat()
    )
    post(anon, zhengzhou.envelope(numbered([event(snap)])))
    # the hub's beat neither reminds nor flags it: 郑州's beat does, and says so
    assert review_sweep().flagged == 0
    mirror = ReviewRequest.objects.get(pk=snap["id"])
    assert (mirror.overdue, mirror.revision) == (False, 1)
    # nor does anyone at the hub answer it
    response = issuer.post(
        f"/api/v1/reviews/{snap['id']}/answer/", {"outcome": "confirmed"}, format="json"
    )
    assert response.status_code == 409 and response.json()["code"] == "review.not_local"
    assert ReviewRequest.objects.get(pk=snap["id"]).state == "open"
