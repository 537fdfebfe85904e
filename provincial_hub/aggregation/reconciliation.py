"""The hub's side of reconciliation (DESIGN §6): compare the hub's copy of a city's licences
with the node's own, and have the node resend what the hub lacks or holds stale.

The node is the authority for its licences; what only the hub holds is flagged for an operator.
`history` ("suspect" or "all") also asks the node to resend licence histories: "suspect" every
licence whose held events or versions go past its row (what no owner writes), "all" every
licence of the node the hub holds (exact, for a one-off clean-up: it costs a whole resend).
"""

import requests
from django.conf import settings
from django.db.models import F

from shared.core.errors import RetryableError
from shared.domain.status import UNRELEASED
from shared.exchange.reconcile import compare
from shared.federation.auth import signed_json
from shared.federation.models import Peer, ReconcileRun
from shared.federation.outbox import license_key
from shared.federation.reconciliation import HttpDigests, local_digests, run_fill
from shared.licenses.models import License, LicenseEvent, LicenseVersion

RESEND_PATH = "/api/v1/federation/resend/"
RESEND_CHUNK = 5000  # the resend endpoint takes at most 10,000 keys a call
HISTORY_MODES = ("", "suspect", "all")


def hub_reconcile(*, peer: Peer, run: ReconcileRun, history: str) -> None:
    """Compare with city `peer` (the run's scope), ask it to resend, and fill in `run`."""
    scope = peer.code
    diff = compare(local_digests(scope), HttpDigests(peer, scope=scope))
    missing_at_hub, only_at_hub = diff.missing_local, diff.missing_remote
    suspects = history_suspects(scope=scope, mode=history)
    to_resend = sorted(set(missing_at_hub) | set(diff.different) | set(suspects))
    repaired = request_resend(peer, to_resend) if to_resend else 0
    run_fill(
        run,
        diff,
        missing_at_hub=missing_at_hub,
        only_at_hub=only_at_hub,
        repaired=repaired,
        flagged=[
            {"key": k, "kind": "history_resent"} for k in suspects[:1000] if history == "suspect"
        ],
    )


def history_suspects(*, scope: str, mode: str) -> list[str]:
    """Base keys of the hub's licences of `scope` whose history the node should resend."""
    held = License.objects.filter(library_code=scope).exclude(status__in=UNRELEASED)
    if mode == "suspect":
        ids = set(
            LicenseEvent.objects.filter(
                license__library_code=scope, seq__gt=F("license__last_event_seq")
            ).values_list("license_id", flat=True)
        ) | set(
            LicenseVersion.objects.filter(
                license__library_code=scope, version__gt=F("license__version")
            ).values_list("license_id", flat=True)
        )
        held = held.filter(pk__in=ids)
    elif mode != "all":
        return []
    return sorted(license_key(lic) for lic in held.select_related("license_type", "issuer"))


def request_resend(peer: Peer, keys: list[str]) -> int:
    return sum(
        _request_resend(peer, keys[i : i + RESEND_CHUNK]) for i in range(0, len(keys), RESEND_CHUNK)
    )


def _request_resend(peer: Peer, keys: list[str]) -> int:
    url = peer.base_url.rstrip("/") + RESEND_PATH
    try:
        body, headers = signed_json(audience=peer.code, url=url, data={"keys": keys})
        response = requests.post(
            url, data=body, headers=headers, timeout=settings.FEDERATION_HTTP_TIMEOUT
        )
        response.raise_for_status()
    except requests.RequestException as exc:
        raise RetryableError("federation.peer_unreachable", f"无法请求对端重发：{exc}") from exc
    return int(response.json()["queued"])
