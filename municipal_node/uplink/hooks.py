"""The node registers what it adds to the shared protocol (`shared.federation.roles`) and the
receivers of the library's signals that only a city needs."""

import logging
from typing import Any

from django.conf import settings
from django.db import transaction

from municipal_node.uplink import bulk, files, share, trust, usage, watch
from shared.access.bulk import REQUEST_KIND, bulk_federation_register
from shared.access.federated import forwarder_register
from shared.catalog.models import LicenseType
from shared.federation.apply import HANDLERS
from shared.federation.models import Peer, ReconcileRun
from shared.federation.roles import FederationRole, role_register
from shared.files.models import LicenseFile
from shared.files.signals import license_file_ready, trust_material_changed
from shared.files.trust import trust_refresher_register
from shared.licenses.models import License
from shared.watch.federation import watch_federation_register
from shared.watch.wire import ALERT_KIND

logger = logging.getLogger(__name__)


class NodeRole(FederationRole):
    """A city node: its own licences and catalogue go up to the hub; licences that came down
    from the hub are not sent back up."""

    def streams_for(self, lic: License) -> list[str]:
        return [settings.FEDERATION_HUB_CODE] if lic.library_code == settings.LIBRARY_CODE else []

    def repair_payload_extend(self, lic: License, payload: dict[str, Any]) -> None:
        # The files go by digest as in `file.ready`: a hub that lost one fetches it again.
        ready = getattr(lic, "ready_files", None)
        if ready is None:
            ready = lic.files.filter(state=LicenseFile.State.READY).order_by("id")
        payload["files"] = [files.file_payload(f) for f in ready]

    def type_streams(self, license_type: LicenseType) -> list[str]:
        return [settings.FEDERATION_HUB_CODE]

    def record_streams(self, library_code: str) -> list[str]:
        return [settings.FEDERATION_HUB_CODE] if library_code == settings.LIBRARY_CODE else []

    def after_restore_recover(self) -> dict[str, Any]:
        from municipal_node.uplink.restore import licences_recover

        return licences_recover()

    def reconcile_peers(self) -> list[str]:
        hub = settings.FEDERATION_HUB_CODE
        return [hub] if Peer.objects.filter(code=hub, active=True).exists() else []

    def reconcile_scope(self, peer: Peer) -> str:
        return settings.LIBRARY_CODE

    def reconcile(self, *, peer: Peer, run: ReconcileRun, history: str) -> None:
        from municipal_node.uplink.reconciliation import node_reconcile

        node_reconcile(peer=peer, run=run)


def register() -> None:
    role_register(NodeRole())
    HANDLERS[REQUEST_KIND] = bulk.apply_bulk_request
    bulk_federation_register(bulk.NodeBulk())
    # Issue #13: consumers ask the province through this node; the hub's usage comes down.
    forwarder_register(share.HubForwarder())
    HANDLERS["access.record"] = usage.apply_access_record
    # Issue #14 item 5: holders' watches go up to the hub, its alerts come down.
    watch_federation_register(watch.NodeWatch())
    HANDLERS[ALERT_KIND] = watch.apply_watch_alert
    license_file_ready.connect(files.on_license_file_ready, dispatch_uid="uplink.files.ready")
    trust_material_changed.connect(_on_trust_material_changed, dispatch_uid="uplink.trust")
    trust_refresher_register(trust.trust_list_fetch)


def _on_trust_material_changed(sender: Any, **_: Any) -> None:
    # After commit: the material then holds the committed keys (a rotation or a revocation).
    transaction.on_commit(_forward_quietly)


def _forward_quietly() -> None:
    # After the key change committed: a failure here must not fail the request that made the
    # key (beat sends the material again; it only goes when its digest changed).
    try:
        trust.trust_keys_forward()
    except Exception:  # noqa: BLE001
        logger.warning("trust.keys_forward_failed", exc_info=True)
