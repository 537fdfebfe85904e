"""A node runs the shared protocol with the uplink's role: what only the hub does is not
installed here, and the node reconciles with the hub alone."""

from unittest import mock

import pytest
from django.apps import apps

from municipal_node.uplink.hooks import NodeRole
from shared.federation import tasks
from shared.federation.apply import HANDLERS
from shared.federation.ingest import _apply_one
from shared.federation.keys import export_public, peer_register
from shared.federation.models import RejectedEvent
from shared.federation.roles import role

pytestmark = pytest.mark.django_db


def register(code):
    key = export_public()
    peer_register(code=code, kid=key["kid"], public_key_pem=key["public_key_pem"])


def test_a_node_installs_the_uplink_and_none_of_the_hubs_code():
    assert apps.is_installed("municipal_node.uplink")
    assert not apps.is_installed("provincial_hub.aggregation")
    assert isinstance(role(), NodeRole)
    assert {"file.ready", "access.checkpoint"}.isdisjoint(HANDLERS)
    tables = {model._meta.db_table for model in apps.get_models()}
    assert {"federation_remotefile", "federation_sectorlibrary", "access_witness"}.isdisjoint(
        tables
    )


def test_an_event_only_the_hub_applies_is_dead_lettered_at_a_node():
    # given: a file announcement reaching a node (only cities announce files to the hub)
    event = {"seq": 7, "kind": "file.ready", "key": "k", "payload": {"sm3": "0" * 64}}
    # when
    refusal = _apply_one("410000", event)
    # then
    assert refusal["code"] == "federation.kind_unknown"
    row = RejectedEvent.objects.get(sender="410000", seq=7)
    assert (row.kind, row.error_code) == ("file.ready", "federation.kind_unknown")


def test_the_beat_reconciles_a_node_with_the_hub_only():
    register("410000")
    register("410300")  # another city: never compared from here
    with mock.patch.object(tasks.reconcile_peer, "delay") as delay:
        assert tasks.reconcile_all() == 1
    delay.assert_called_once_with("410000")
