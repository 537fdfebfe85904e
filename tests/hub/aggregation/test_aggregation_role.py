"""The hub runs the shared protocol with the aggregation's role: its event kinds, its tables,
and a reconciliation with every active city."""

from unittest import mock

import pytest
from django.apps import apps

from provincial_hub.aggregation.files import apply_file_ready
from provincial_hub.aggregation.hooks import HubRole
from shared.federation import tasks
from shared.federation.apply import HANDLERS
from shared.federation.keys import export_public, peer_register
from shared.federation.models import Peer
from shared.federation.roles import role

pytestmark = pytest.mark.django_db


def register(code, *, active=True):
    key = export_public()
    peer_register(code=code, kid=key["kid"], public_key_pem=key["public_key_pem"])
    Peer.objects.filter(code=code).update(active=active)


def test_the_hub_installs_the_aggregation_and_none_of_a_nodes_code():
    assert apps.is_installed("provincial_hub.aggregation")
    assert not apps.is_installed("municipal_node.uplink")
    assert isinstance(role(), HubRole)
    assert HANDLERS["file.ready"] is apply_file_ready
    assert "access.checkpoint" in HANDLERS
    tables = {model._meta.db_table for model in apps.get_models()}
    assert {"federation_remotefile", "federation_sectorlibrary", "access_witness"} <= tables


def test_the_beat_reconciles_the_hub_with_every_active_city():
    register("410100")
    register("410300")
    register("410500", active=False)
    with mock.patch.object(tasks.reconcile_peer, "delay") as delay:
        assert tasks.reconcile_all() == 2
    assert sorted(call.args[0] for call in delay.call_args_list) == ["410100", "410300"]
