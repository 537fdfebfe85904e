"""What a tier adds to the symmetric protocol, registered by the tier's own app.

`shared.federation` is the protocol both tiers run: outbox, relay, ingest, apply, digests. Where
the two tiers differ (which streams a change goes on, what a payload carries, how a
reconciliation is oriented), the protocol asks the `FederationRole` that the installed tier app
registered in its `AppConfig.ready` (`provincial_hub.aggregation`, `municipal_node.uplink`).
Shared code never imports a tier; a tier imports shared code and registers itself here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from shared.catalog.models import LicenseType
    from shared.federation.models import Peer, ReconcileRun
    from shared.licenses.models import License


class FederationRole:
    """The defaults are a library that exchanges with nobody; each tier overrides what it does."""

    def streams_for(self, lic: License) -> list[str]:
        """The streams (receiving library codes) a change of `lic` goes on."""
        return []

    def license_payload_extend(self, lic: License, payload: dict[str, Any]) -> None:
        """Add what this tier's outgoing licence payloads carry besides the licence itself."""

    def repair_payload_extend(self, lic: License, payload: dict[str, Any]) -> None:
        """Add what this tier's whole-licence repairs carry besides versions and events."""

    def type_streams(self, license_type: LicenseType) -> list[str]:
        """The streams a catalogue change goes on."""
        return []

    def record_streams(self, library_code: str) -> list[str]:
        """The streams a governance record (review request, inspection) about a licence of
        `library_code` goes on: up to the hub from a city, for its own licences only."""
        return []

    def after_restore_recover(self) -> dict[str, Any]:
        """After a restore from an older dump: take back from the peers what they hold that
        this library lost (`shared.federation.restore`); what was found and recovered."""
        return {}

    def reconcile_peers(self) -> list[str]:
        """The peers the beat reconciliation compares this library with."""
        return []

    def reconcile_scope(self, peer: Peer) -> str:
        """Whose licences a reconciliation with `peer` compares (always the node's)."""
        raise ImproperlyConfigured("this library does not reconcile")

    def reconcile(self, *, peer: Peer, run: ReconcileRun, history: str) -> None:
        """Compare with `peer`, repair, and fill in `run` (saved by the caller)."""
        raise ImproperlyConfigured("this library does not reconcile")


_role: FederationRole | None = None


def role_register(role: FederationRole) -> None:
    global _role
    _role = role


def role() -> FederationRole:
    """The installed tier's role (a bare library when no tier app is installed)."""
    return _role if _role is not None else FederationRole()
