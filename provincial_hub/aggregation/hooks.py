"""The hub registers what it adds to the shared protocol and the library: its federation role
(`shared.federation.roles`), the event kinds only it applies, the sector libraries the share
query asks (`shared.access.sources`) and the city files it serves by reference
(`shared.files.remote`), and where its partitioned licences are stored
(`shared.licenses.lookups`)."""

import logging
from typing import Any

from django.conf import settings
from django.db import transaction

from provincial_hub.aggregation import bulk, files, locator, sector, trust, usage, witness
from shared.access.bulk import bulk_federation_register
from shared.access.log import appended_listener_register, sequenced_listener_register
from shared.access.sources import sector_source_register
from shared.federation import snapshots
from shared.federation.apply import HANDLERS, files_recorder_register
from shared.federation.models import Peer, ReconcileRun
from shared.federation.outbox import holder_city
from shared.federation.roles import FederationRole, role_register
from shared.files.remote import remote_files_register
from shared.files.signals import trust_material_changed
from shared.files.trust import trust_refresher_register
from shared.licenses.models import License

logger = logging.getLogger(__name__)


class HubRole(FederationRole):
    """The hub: licences issued by provincial systems for a holder of a city go down to that
    city when its node is registered (art. 15), carrying their type (cities do not receive
    the provincial catalogue); it reconciles every active city."""

    def streams_for(self, lic: License) -> list[str]:
        if lic.library_code != settings.LIBRARY_CODE or not settings.FEDERATION_PUSH_DOWN:
            return []
        city = holder_city(lic.holder_code, lic.holder_code_type)
        if city and Peer.objects.filter(code=city, active=True).exists():
            return [city]
        return []

    def license_payload_extend(self, lic: License, payload: dict[str, Any]) -> None:
        payload["type"] = snapshots.type_snapshot(lic.license_type)

    def repair_payload_extend(self, lic: License, payload: dict[str, Any]) -> None:
        # A reconciliation repair down to a city carries the type too (cities do not receive
        # the provincial catalogue; a city that lost the type still takes the licence).
        if lic.library_code == settings.LIBRARY_CODE:
            payload["type"] = snapshots.type_snapshot(lic.license_type)

    def reconcile_peers(self) -> list[str]:
        return list(
            Peer.objects.filter(active=True)
            .exclude(code=settings.LIBRARY_CODE)
            .values_list("code", flat=True)
        )

    def reconcile_scope(self, peer: Peer) -> str:
        return peer.code

    def reconcile(self, *, peer: Peer, run: ReconcileRun, history: str) -> None:
        from provincial_hub.aggregation.reconciliation import hub_reconcile

        hub_reconcile(peer=peer, run=run, history=history)


def _apply_checkpoint(payload: dict[str, Any], *, sender: str) -> Any:
    return witness.checkpoint_witness(node_code=sender, checkpoint=payload["checkpoint"])


def register() -> None:
    role_register(HubRole())
    HANDLERS["access.checkpoint"] = _apply_checkpoint
    HANDLERS["file.ready"] = files.apply_file_ready
    HANDLERS[bulk.DECISION_KIND] = bulk.apply_bulk_decision
    bulk_federation_register(bulk.HubBulk())
    files_recorder_register(files.record_files)
    sector_source_register(sector.sector_query)
    remote_files_register(files.RemoteFiles())
    # Usage flows back (issue #13): records about a city's licences go down to that city.
    sequenced_listener_register(usage.records_sequenced)
    appended_listener_register(usage.records_appended)
    HANDLERS["trust.keys"] = trust.apply_trust_keys
    HANDLERS["access.key.announce"] = witness.log_key_announce_apply
    trust_refresher_register(trust.trust_list_publish)
    trust_material_changed.connect(_on_trust_material_changed, dispatch_uid="aggregation.trust")
    # Lookups by id or identifier name the partition (issue #16, shared.licenses.lookups).
    locator.register()


def _on_trust_material_changed(sender: Any, **_: Any) -> None:
    # The hub's own keys changed: a new list version once the change is committed.
    from provincial_hub.aggregation.tasks import publish_trust_list

    transaction.on_commit(lambda: _publish_quietly(publish_trust_list))


def _publish_quietly(task: Any) -> None:
    try:
        task.delay()
    except Exception:  # noqa: BLE001 - broker down: the beat publishes within minutes
        logger.warning("trust.publish_enqueue_failed", exc_info=True)
