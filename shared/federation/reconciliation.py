"""Reconciliation runs (DESIGN §6): compare bucket digests with a peer, repair, record.

The protocol is shared; each tier's driver orients it (`provincial_hub.aggregation.
reconciliation`, `municipal_node.uplink.reconciliation`). At the hub, `reconcile --node X`
compares both directions with city X (the city's licences, catalogue and files at the hub; the
hub's licences pushed down to X at the city); at a node, the beat job compares the node's
licences with the hub's copy of them. The issuing library is the authority for its records:
what the other side lacks or holds stale is re-sent by the owner as whole-licence repairs (or
type events); each run records what it repaired in which direction (`ReconcileRun.repairs`).

A repair is authoritative for the licence's history as well as its row (`apply.history_enforce`):
events and versions the hub holds that the node's repair does not carry are quarantined. Since
ownership is checked on every apply path no sender can add such events any more; for history
written before that (the row restored by an earlier repair, the forged event left behind), the
hub's run can also look at histories (`history`): "suspect" asks the node to resend every
licence whose held events or versions go past its row (what no owner writes), "all" every
licence of the node the hub holds (exact, for a one-off clean-up: it costs a whole resend).
"""

import time
from typing import Any

import requests
from django.conf import settings
from django.utils import timezone

from shared.core.errors import RetryableError
from shared.exchange.reconcile import Difference, Digests, DigestSource
from shared.federation.auth import signed_json
from shared.federation.digests import (
    DatabaseDigests,
    rebuild_buckets,
    type_digests,
    uses_trigger,
)
from shared.federation.keys import peer_get
from shared.federation.models import Peer, ReconcileRun
from shared.federation.roles import role
from shared.federation.tls import exchange_tls

# Where each tier serves its digests.
DIGESTS_PATH = {"hub": "/api/v1/exchange/digests/", "node": "/api/v1/federation/digests/"}


class HttpDigests:
    """A peer's digests, over HTTP with a signed request token."""

    def __init__(self, peer: Peer, *, scope: str, kind: str = "licenses") -> None:
        tier = "hub" if peer.code == settings.FEDERATION_HUB_CODE else "node"
        self.url = peer.base_url.rstrip("/") + DIGESTS_PATH[tier]
        self.peer = peer
        self.scope = scope
        self.kind = kind
        self.session = requests.Session()

    def digests(self, level: int, prefixes: list[str]) -> Digests:
        try:
            body, headers = signed_json(
                audience=self.peer.code,
                url=self.url,
                data={
                    "scope": self.scope,
                    "level": level,
                    "prefixes": prefixes,
                    "kind": self.kind,
                },
            )
            response = self.session.post(
                self.url,
                data=body,
                headers=headers,
                timeout=settings.FEDERATION_HTTP_TIMEOUT,
                **exchange_tls(),
            )
            response.raise_for_status()
        except requests.RequestException as exc:
            raise RetryableError("federation.peer_unreachable", f"无法获取对端摘要：{exc}") from exc
        return {k: (int(v[0]), str(v[1])) for k, v in response.json()["digests"].items()}


def local_digests(scope: str) -> DigestSource:
    if not uses_trigger():
        rebuild_buckets(scope)  # SQLite keeps no trigger: recompute before comparing
    return DatabaseDigests(scope)


def reconcile_run(*, peer_code: str, trigger: str = "manual", history: str = "") -> ReconcileRun:
    """Compare this library with `peer_code` for the licences of the node in the pair, repair,
    and record the run; the installed tier orients the comparison (`FederationRole.reconcile`).
    `history` ("suspect" or "all", at the hub): also have the node resend histories."""
    peer = peer_get(peer_code)
    tier = role()
    run = ReconcileRun.objects.create(
        scope=tier.reconcile_scope(peer), peer=peer.code, trigger=trigger
    )
    started = time.monotonic()
    try:
        tier.reconcile(peer=peer, run=run, history=history)
        run.state = ReconcileRun.State.DONE
    except Exception as exc:
        run.state = ReconcileRun.State.FAILED
        run.error = f"{exc.__class__.__name__}: {exc}"[:500]
        raise
    finally:
        run.finished_at = timezone.now()
        run.duration_ms = int((time.monotonic() - started) * 1000)
        run.save()
    return run


def run_fill(
    run: ReconcileRun,
    diff: Difference,
    *,
    missing_at_hub: list[str],
    only_at_hub: list[str],
    repaired: int,
    flagged: list[dict[str, str]] | None = None,
) -> None:
    """Write a comparison's outcome, oriented "hub side" vs "node side", onto its run."""
    run.buckets_compared = diff.buckets_compared
    run.round_trips = diff.round_trips
    run.differences = diff.total
    run.missing_at_hub = len(missing_at_hub)
    run.stale_at_hub = len(diff.different)
    run.only_at_hub = len(only_at_hub)
    run.repaired = repaired
    run.flagged = [{"key": k, "kind": "only_at_hub"} for k in only_at_hub[:1000]] + (flagged or [])


def run_record(
    run: ReconcileRun, *, kind: str, direction: str, action: str, keys: list[str]
) -> None:
    """Note on `run` what it did to `keys` of `kind` in `direction` ("up": the hub's copy
    repaired from the city; "down": the city's copy repaired from the hub)."""
    if keys:
        run.repairs.append(
            {
                "kind": kind,
                "direction": direction,
                "action": action,
                "count": len(keys),
                "keys": sorted(keys)[:1000],
            }
        )


def repairs_summary(run: ReconcileRun) -> str:
    """`kind.direction.action=count` words, for the commands' one-line output."""
    return " ".join(f"{r['kind']}.{r['direction']}.{r['action']}={r['count']}" for r in run.repairs)


def digests_for(
    *, scope: str, level: int, prefixes: list[str], kind: str = "licenses"
) -> dict[str, Any]:
    if kind == "types":
        return {"digests": {k: list(v) for k, v in type_digests(scope).items()}}
    source = DatabaseDigests(scope)
    if level == 0 and not uses_trigger():
        rebuild_buckets(scope)
    return {"digests": {k: list(v) for k, v in source.digests(level, prefixes).items()}}
