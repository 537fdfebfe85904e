"""Reconciliation runs (DESIGN §6): compare bucket digests with a peer, repair, record.

At the hub, `reconcile --node X` compares the hub's copy of city X's licences with the node's
own; at a node, the beat job compares the node's licences with the hub's copy of them. Either
way the node is the authority for its licences: what the hub lacks or holds stale is re-sent by
the node as whole-licence repairs; what only the hub holds is flagged for an operator.

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
from django.db.models import F
from django.utils import timezone

from shared.core.errors import RetryableError
from shared.domain.status import UNRELEASED
from shared.exchange.reconcile import Digests, DigestSource, compare
from shared.federation.auth import signed_json
from shared.federation.digests import DatabaseDigests, rebuild_buckets, uses_trigger
from shared.federation.keys import peer_get
from shared.federation.models import Peer, ReconcileRun
from shared.federation.outbox import license_key, license_resend
from shared.licenses.models import License, LicenseEvent, LicenseVersion

# Where each tier serves its digests and accepts resend requests.
DIGESTS_PATH = {"hub": "/api/v1/exchange/digests/", "node": "/api/v1/federation/digests/"}
RESEND_PATH = "/api/v1/federation/resend/"


class HttpDigests:
    """A peer's digests, over HTTP with a signed request token."""

    def __init__(self, peer: Peer, *, scope: str) -> None:
        tier = "hub" if peer.code == settings.FEDERATION_HUB_CODE else "node"
        self.url = peer.base_url.rstrip("/") + DIGESTS_PATH[tier]
        self.peer = peer
        self.scope = scope
        self.session = requests.Session()

    def digests(self, level: int, prefixes: list[str]) -> Digests:
        try:
            body, headers = signed_json(
                audience=self.peer.code,
                url=self.url,
                data={"scope": self.scope, "level": level, "prefixes": prefixes},
            )
            response = self.session.post(
                self.url, data=body, headers=headers, timeout=settings.FEDERATION_HTTP_TIMEOUT
            )
            response.raise_for_status()
        except requests.RequestException as exc:
            raise RetryableError("federation.peer_unreachable", f"无法获取对端摘要：{exc}") from exc
        return {k: (int(v[0]), str(v[1])) for k, v in response.json()["digests"].items()}


RESEND_CHUNK = 5000  # the resend endpoint takes at most 10,000 keys a call


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


def local_digests(scope: str) -> DigestSource:
    if not uses_trigger():
        rebuild_buckets(scope)  # SQLite keeps no trigger: recompute before comparing
    return DatabaseDigests(scope)


HISTORY_MODES = ("", "suspect", "all")


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


def reconcile_run(*, peer_code: str, trigger: str = "manual", history: str = "") -> ReconcileRun:
    """Compare this library with `peer_code` for the licences of the node in the pair;
    `history` ("suspect" or "all", at the hub): also have the node resend histories."""
    peer = peer_get(peer_code)
    at_hub = settings.LIBRARY_TIER == "hub"
    scope = peer.code if at_hub else settings.LIBRARY_CODE
    run = ReconcileRun.objects.create(scope=scope, peer=peer.code, trigger=trigger)
    started = time.monotonic()
    try:
        diff = compare(local_digests(scope), HttpDigests(peer, scope=scope))
        # Orient the difference as "hub side" vs "node side".
        if at_hub:
            missing_at_hub, only_at_hub = diff.missing_local, diff.missing_remote
        else:
            missing_at_hub, only_at_hub = diff.missing_remote, diff.missing_local
        suspects = history_suspects(scope=scope, mode=history) if at_hub else []
        to_resend = sorted(set(missing_at_hub) | set(diff.different) | set(suspects))
        repaired = 0
        if to_resend:
            if at_hub:
                repaired = request_resend(peer, to_resend)
            else:
                repaired = license_resend(stream=peer.code, keys=to_resend)
        run.buckets_compared = diff.buckets_compared
        run.round_trips = diff.round_trips
        run.differences = diff.total
        run.missing_at_hub = len(missing_at_hub)
        run.stale_at_hub = len(diff.different)
        run.only_at_hub = len(only_at_hub)
        run.repaired = repaired
        run.flagged = [{"key": k, "kind": "only_at_hub"} for k in only_at_hub[:1000]] + [
            {"key": k, "kind": "history_resent"} for k in suspects[:1000] if history == "suspect"
        ]
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


def digests_for(*, scope: str, level: int, prefixes: list[str]) -> dict[str, Any]:
    source = DatabaseDigests(scope)
    if level == 0 and not uses_trigger():
        rebuild_buckets(scope)
    return {"digests": {k: list(v) for k, v in source.digests(level, prefixes).items()}}
