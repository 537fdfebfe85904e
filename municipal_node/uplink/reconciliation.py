"""The node's side of reconciliation (DESIGN §6): compare this city's licences with the hub's
copy of them, and resend up the stream what the hub lacks or holds stale (the node is the
authority for its licences); what only the hub holds is flagged for an operator."""

from django.conf import settings

from shared.exchange.reconcile import compare
from shared.federation.models import Peer, ReconcileRun
from shared.federation.outbox import license_resend
from shared.federation.reconciliation import HttpDigests, local_digests, run_fill


def node_reconcile(*, peer: Peer, run: ReconcileRun) -> None:
    scope = settings.LIBRARY_CODE
    diff = compare(local_digests(scope), HttpDigests(peer, scope=scope))
    missing_at_hub, only_at_hub = diff.missing_remote, diff.missing_local
    to_resend = sorted(set(missing_at_hub) | set(diff.different))
    repaired = license_resend(stream=peer.code, keys=to_resend) if to_resend else 0
    run_fill(run, diff, missing_at_hub=missing_at_hub, only_at_hub=only_at_hub, repaired=repaired)
