"""A node sends its public trust material up (`trust.keys`) when it changed: a key rotation or
a seal revocation writes one event after commit, running it again writes nothing."""

import pytest
from django.core.management import call_command

from municipal_node.uplink.trust import trust_keys_forward
from shared.federation.models import OutboxEvent
from shared.federation.trust import material_digest
from shared.files import keystore

pytestmark = pytest.mark.django_db


def trust_events():
    return list(OutboxEvent.objects.filter(kind="trust.keys").order_by("seq"))


def test_material_goes_up_once_per_change(pki, django_capture_on_commit_callbacks):
    # given the keys of pki init (their creation already sent the material)
    trust_keys_forward()
    before = trust_events()
    # when nothing changed: nothing more is sent, however often beat runs
    assert trust_keys_forward() is False
    call_command("federation", "send-trust-keys")
    assert trust_events() == before
    # when a seal is revoked: one event after commit, carrying the revocation
    seal = pki["seal"]
    with django_capture_on_commit_callbacks(execute=True):
        keystore.seal_revoke(key_id=seal.key_id, reason="私钥泄露")
    events = trust_events()
    assert len(events) == len(before) + 1
    last = events[-1]
    assert last.stream == "410000"
    assert last.key == "trust:410100"
    material = last.payload["material"]
    assert last.payload["sm3"] == material_digest(material)
    assert [(r["key_id"], r["reason"]) for r in material["revocations"]] == [
        (seal.key_id, "私钥泄露")
    ]
    assert material["library"] == "410100"
    assert {k["kid"] for k in material["token_keys"]} == {pki["token"].key_id}
    assert trust_keys_forward() is False
