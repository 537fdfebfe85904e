"""At the hub: a city's inspections arrive as `inspection.update` in its signed envelopes and are
kept by revision; a city cannot write another city's inspection or one about another city's
licence; the materials arrive as metadata only.

Envelopes are real: signed in-process with keys registered for 郑州 (410100) and 洛阳 (410300)
and posted to `/api/v1/exchange/envelopes/`, as a node's relay would.
"""

import uuid

import pytest
from django.utils import timezone

from shared.crypto.suites import get_suite
from shared.exchange.envelopes import seal
from shared.federation.keys import peer_register
from shared.federation.models import OutboxEvent, RejectedEvent
from shared.federation.outbox import license_key
from shared.inspections.models import Inspection
from shared.licenses.models import License
from tests.support import make_agency, make_type, make_user, token_client

pytestmark = pytest.mark.django_db

ZZ, LY, HUB = "410100", "410300", "410000"
DIGEST = "ab" * 32


class City:
    """A city's exchange key, registered at the hub as that city's peer."""

    def __init__(self, code):
        self.code = code
        self.suite = get_suite("gm")
        self.key = self.suite.generate_key()
        public = self.suite.public_key_of(self.key)
        self.kid = self.suite.key_id(public)
        self.seq = 0
        peer_register(
            code=code,
            kid=self.kid,
            public_key_pem=self.suite.public_key_to_pem(public).decode(),
            base_url="http://127.0.0.1:9",
        )

    def send(self, client, *payloads):
        events = []
        for payload in payloads:
            self.seq += 1
            key = payload["inspection"]["id"]
            events.append(
                {"seq": self.seq, "kind": "inspection.update", "key": key, "payload": payload}
            )
        envelope = seal(
            key=self.key,
            kid=self.kid,
            sender=self.code,
            receiver=HUB,
            stream=HUB,
            events=events,
            now=timezone.now(),
        )
        response = client.post("/api/v1/exchange/envelopes/", envelope, format="json")
        assert response.status_code == 200, response.json()
        return response.json()


@pytest.fixture
def zz_licence(issuer, issue_payload):
    """A licence the hub holds for 郑州 (its issuer's area is in 郑州), as if it had arrived."""
    response = issuer.post("/api/v1/licenses/", issue_payload(number="ZZ000001"), format="json")
    assert response.status_code == 201, response.content
    License.objects.filter(identifier=response.json()["identifier"]).update(library_code=ZZ)
    return License.objects.get(identifier=response.json()["identifier"])


def payload(lic, *, library_code=ZZ, revision=1, state="submitted", inspection_id=None, **extra):
    snap = {
        "id": inspection_id or str(uuid.uuid4()),
        "library_code": library_code,
        "license_key": license_key(lic),
        "identifier": lic.identifier,
        "type_code": lic.license_type.type_code,
        "issuer_code": lic.issuer.code,
        "year": 2026,
        "state": state,
        "note": "",
        "submitter_kind": "holder",
        "submitted_at": "2026-03-02T02:00:00.000Z",
        "submitted_by": "zz_holder",
        "decided_at": None if state == "submitted" else "2026-07-10T02:00:00.000Z",
        "decided_by": "" if state == "submitted" else "zz_issuer",
        "decision_reason": "",
        "late": state == "approved",
        "revision": revision,
        "materials": [
            {
                "index": 1,
                "name": "执照.pdf",
                "content_type": "application/pdf",
                "size": 40,
                "digest": DIGEST,
            }
        ],
        **extra,
    }
    return {"schema": 1, "inspection": snap}


def test_a_citys_inspection_is_applied_by_revision_with_metadata_only(
    anon, zz_licence, issuer_user
):
    zhengzhou = City(ZZ)
    submitted = payload(zz_licence)
    inspection_id = submitted["inspection"]["id"]
    # when: submitted, then approved, then the submitted state again (a replayed older one)
    first = zhengzhou.send(anon, submitted)
    approved = payload(zz_licence, revision=2, state="approved", inspection_id=inspection_id)
    second = zhengzhou.send(anon, approved)
    third = zhengzhou.send(anon, payload(zz_licence, revision=1, inspection_id=inspection_id))
    # then
    assert [(b["applied"], b["rejected"]) for b in (first, second, third)] == [
        (1, []),
        (1, []),
        (1, []),
    ]
    row = Inspection.objects.get(pk=inspection_id)
    assert (row.library_code, row.license_id, row.issuer_id, row.license_type_id) == (
        ZZ,
        zz_licence.pk,
        zz_licence.issuer_id,
        zz_licence.license_type_id,
    )
    assert (row.state, row.revision, row.late, row.submitted_by, row.decided_by) == (
        "approved",
        2,
        True,
        None,
        None,
    )
    material = row.materials.get()
    assert (material.name, material.size, material.digest, material.content) == (
        "执照.pdf",
        40,
        DIGEST,
        None,
    )
    # a mirror goes nowhere from the hub (record streams: none for another library's)
    assert not OutboxEvent.objects.filter(kind="inspection.update").exists()
    # the hub reads it, but the material is held by the city, and the city decides
    client = token_client(issuer_user)
    base = f"/api/v1/inspections/{inspection_id}/"
    assert client.get(base).json()["materials"][0]["held"] is False
    download = client.get(base + "materials/1/")
    assert (download.status_code, download.json()["code"]) == (404, "inspection.material_not_held")
    decided = client.post(base + "refuse/", {"reason": "不予通过"}, format="json")
    assert (decided.status_code, decided.json()["code"]) == (409, "inspection.not_local")
    assert Inspection.objects.get(pk=inspection_id).state == "approved"


def test_a_forged_sender_is_refused_and_nothing_changes(anon, zz_licence, issuer_user):
    zhengzhou, luoyang = City(ZZ), City(LY)
    held = payload(zz_licence)
    zhengzhou.send(anon, held)
    held_id = held["inspection"]["id"]
    ly_agency = make_agency("洛阳市市场监督管理局", body="00003001", area=LY, is_issuer=True)
    ly_type = make_type(make_user("ly_issuer", ly_agency), seq=7, requires_review=False)
    ly_licence = License.objects.create(
        **{
            f.attname: getattr(zz_licence, f.attname)
            for f in License._meta.concrete_fields
            if f.attname not in ("id", "license_type_id", "issuer_id", "identifier", "serial")
        }
        | {
            "license_type": ly_type,
            "issuer": ly_agency,
            "identifier": zz_licence.identifier.replace(".001.", ".002."),
            "serial": "LY0001",
            "library_code": LY,
        }
    )
    forged = [
        # 洛阳 says it is 郑州's: the sender is not the library it names
        payload(zz_licence, library_code=ZZ),
        # 洛阳 names itself, about 郑州's licence
        payload(zz_licence, library_code=LY),
        # 洛阳 rewrites 郑州's inspection, naming its own licence
        payload(ly_licence, library_code=LY, revision=9, state="refused", inspection_id=held_id),
        # a licence the hub does not hold
        payload(zz_licence, library_code=LY),
    ]
    forged[3]["inspection"]["license_key"] = "11100000000013338W011.11430000006122244L.NOPE"
    body = luoyang.send(anon, *forged)
    assert body["applied"] == 0
    assert [(r["seq"], r["code"]) for r in body["rejected"]] == [
        (1, "federation.not_owner"),
        (2, "federation.not_owner"),
        (3, "federation.not_owner"),
        (4, "federation.license_unknown"),
    ]
    assert list(Inspection.objects.values_list("pk", "state", "revision", "library_code")) == [
        (uuid.UUID(held_id), "submitted", 1, ZZ)
    ]
    dead = RejectedEvent.objects.filter(sender=LY).order_by("seq")
    assert [d.payload["inspection"]["id"] for d in dead][2] == held_id
