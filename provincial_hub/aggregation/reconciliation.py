"""The hub's side of reconciliation (DESIGN §6, issue #13 item 5): with one city, both ways.

The issuing library is the source of truth for its records, and the owner repairs the other
side's copy:

- **up** (the city owns): the hub's copy of the city's licences — what the hub lacks or holds
  stale the node resends as whole-licence repairs; the city's catalogue (type digests) — a type
  the hub lacks or holds altered the node resends as a `catalog.type` event; the city's files
  at the hub — one missing or corrupt on disk is fetched again by digest.
- **down** (the hub owns): the licences the hub pushed down to the city (art. 15) against the
  city's copies — what the city lacks or holds stale the hub resends down its stream as
  whole-licence repairs (the city's apply takes them only from the owner, the hub).
- **one side only**: a city-only licence is fetched (resent up); a hub licence only at the city
  is resent down when the hub holds it, else flagged (`orphan_at_node`). A city licence only at
  the hub is confirmed absent by a second look at the node; then, if it never arrived from the
  city (no `Arrival`: written by hand, or forged before ownership was checked), the city never
  issued it and it is moved out into `QuarantinedRecord` (kind `license`; kept, not destroyed);
  if it did arrive (the city lost it, e.g. restored from a backup), it is genuine: flagged
  `lost_at_node`, never removed; one that something here refers to (a file, a record of use)
  is flagged `referenced` for an operator. A transient error fails the run before anything
  is removed.

`history` ("suspect" or "all") also asks the node to resend licence histories: "suspect" every
licence whose held events or versions go past its row (what no owner writes), "all" every
licence of the node the hub holds (exact, for a one-off clean-up: it costs a whole resend).
Every run records what it repaired in which direction (`ReconcileRun.repairs`).
"""

import logging
from dataclasses import dataclass, field

import requests
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, ProtectedError

from provincial_hub.aggregation.files import remote_file_audit
from shared.core.errors import RetryableError
from shared.domain.status import UNRELEASED
from shared.exchange.reconcile import compare
from shared.federation.auth import signed_json
from shared.federation.digests import base_key, licence_leaves, type_digests
from shared.federation.models import Arrival, OutboxEvent, Peer, QuarantinedRecord, ReconcileRun
from shared.federation.outbox import licences_by_key, license_resend
from shared.federation.reconciliation import HttpDigests, local_digests, run_fill, run_record
from shared.federation.snapshots import license_snapshot
from shared.federation.tls import exchange_tls
from shared.files.models import StatusListIndex
from shared.licenses.models import License, LicenseEvent, LicenseVersion

logger = logging.getLogger(__name__)

RESEND_PATH = "/api/v1/federation/resend/"
RESEND_CHUNK = 5000  # the resend endpoint takes at most 10,000 keys a call
HISTORY_MODES = ("", "suspect", "all")
LICENSE_KINDS = ("license.event", "license.repair")


def hub_reconcile(*, peer: Peer, run: ReconcileRun, history: str) -> None:
    """Compare with city `peer` both ways, have each owner resend, and fill in `run`.
    Every comparison is made before anything is repaired: an unreachable node fails the run
    with nothing changed."""
    scope = peer.code
    remote = HttpDigests(peer, scope=scope)
    diff = compare(local_digests(scope), remote)
    missing_at_hub, only_at_hub = diff.missing_local, diff.missing_remote
    suspects = history_suspects(scope=scope, mode=history)
    types = catalogue_compare(peer)
    down = downward_compare(peer)
    confirmed = _still_absent(remote, scope=scope, keys=only_at_hub)

    # up: the city resends what the hub lacks or holds stale (licences and types)
    to_resend = sorted(set(missing_at_hub) | set(diff.different) | set(suspects))
    repaired = request_resend(peer, to_resend, types=types.to_resend)
    settled = hub_only_settle(scope=scope, keys=confirmed)
    files = remote_file_audit(node=scope)
    # down: the hub resends what it pushed and the city lacks or holds stale
    down_repaired = license_resend(stream=scope, keys=down.to_resend) if down.to_resend else 0

    run_fill(
        run,
        diff,
        missing_at_hub=missing_at_hub,
        only_at_hub=only_at_hub,
        repaired=repaired
        + len(types.to_resend)
        + down_repaired
        + len(files)
        + len(settled["quarantined"]),
        flagged=[
            {"key": k, "kind": "history_resent"} for k in suspects[:1000] if history == "suspect"
        ],
    )
    run.differences += types.differences + down.differences + len(files)
    run_record(run, kind="license", direction="up", action="resent", keys=to_resend)
    for action, keys in settled.items():
        name = action if action == "quarantined" else f"flagged_{action}"
        run_record(run, kind="license", direction="up", action=name, keys=keys)
    run_record(run, kind="type", direction="up", action="resent", keys=types.to_resend)
    run_record(run, kind="type", direction="up", action="flagged_only_at_hub", keys=types.only_here)
    run_record(run, kind="file", direction="up", action="refetched", keys=files)
    run_record(run, kind="license", direction="down", action="resent", keys=down.to_resend)
    run_record(run, kind="license", direction="down", action="flagged_orphan", keys=down.orphans)
    run.flagged += [{"key": k, "kind": "lost_at_node"} for k in settled["lost_at_node"][:1000]]
    run.flagged += [{"key": k, "kind": "orphan_at_node"} for k in down.orphans[:1000]]


@dataclass(slots=True)
class Comparison:
    differences: int = 0
    to_resend: list[str] = field(default_factory=list)  # by the owner, to the other side
    only_here: list[str] = field(default_factory=list)  # flagged
    orphans: list[str] = field(default_factory=list)  # flagged


def catalogue_compare(peer: Peer) -> Comparison:
    """The city's published types against the hub's copy of them (a flat map: catalogues are
    small). What the hub lacks or holds altered is for the city to resend."""
    mine = type_digests(peer.code)
    theirs = HttpDigests(peer, scope=peer.code, kind="types").digests(0, [])
    differing = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
    return Comparison(
        differences=len(differing),
        to_resend=[k for k in differing if k in theirs],
        only_here=[k for k in differing if k not in theirs],
    )


def pushed_keys(city: str) -> tuple[set[str], set[str]]:
    """Base keys of the hub's licences sent down to `city`, and those of them with an event
    still on its way (not acknowledged: not a difference yet)."""
    rows = OutboxEvent.objects.filter(stream=city, kind__in=LICENSE_KINDS)
    keys = rows.order_by().values_list("key", flat=True)  # no ordering: DISTINCT on the key
    pushed = set(keys.distinct())
    in_flight = set(keys.exclude(state=OutboxEvent.State.ACKNOWLEDGED).distinct())
    return pushed, in_flight


def downward_compare(peer: Peer) -> Comparison:
    """The hub's licences pushed to city `peer` against the city's copies of them (the city's
    digests of scope = the hub's code), walked like the upward comparison."""
    hub = settings.LIBRARY_CODE
    pushed, in_flight = pushed_keys(peer.code)
    diff = compare(licence_leaves(scope=hub, keys=pushed - in_flight), HttpDigests(peer, scope=hub))
    only_at_city = [k for k in diff.missing_local if k not in in_flight]
    held = set(licences_by_key(only_at_city)) if only_at_city else set()
    return Comparison(
        differences=len(diff.missing_remote) + len(diff.different) + len(only_at_city),
        to_resend=sorted(set(diff.missing_remote) | set(diff.different) | held),
        orphans=sorted(set(only_at_city) - held),
    )


def _still_absent(remote: HttpDigests, *, scope: str, keys: list[str]) -> list[str]:
    """Of `keys` (held only here), those the node still lacks on a second look at their slices:
    nothing is removed on one answer alone."""
    if not keys:
        return []
    held = licence_leaves(scope=scope, keys=set(keys)).leaves_by_base
    theirs = remote.digests(2, sorted({l1 for _, l1, _ in held.values()}))
    return [k for k in keys if k not in theirs]


def hub_only_settle(*, scope: str, keys: list[str]) -> dict[str, list[str]]:
    """City `scope`'s licences held here that the city does not have (confirmed twice):
    quarantine those that never arrived from the city; keep (flag) those that did, and those
    something else here refers to (a file, a record of use: for an operator to judge)."""
    settled: dict[str, list[str]] = {"quarantined": [], "lost_at_node": [], "referenced": []}
    if not keys:
        return settled
    arrived = set(Arrival.objects.filter(key__in=keys).values_list("key", flat=True))
    settled["lost_at_node"] = sorted(k for k in keys if k in arrived)
    for key in sorted(set(keys) - arrived):
        try:
            if _quarantine_licence(scope=scope, key=key):
                settled["quarantined"].append(key)
        except (ProtectedError, IntegrityError) as exc:
            logger.warning("federation.only_at_hub_referenced key=%s: %s", key, exc)
            settled["referenced"].append(key)
    logger.warning("federation.only_at_hub node=%s %s", scope, settled)
    return settled


@transaction.atomic
def _quarantine_licence(*, scope: str, key: str) -> bool:
    """Move the hub's copy of city licence `key` (its row, versions and events) into
    `QuarantinedRecord` and out of the licence tables."""
    type_code, issuer_code, serial = key.split(".", 2)
    lic = (
        License.objects.select_for_update(of=("self",))  # the licence row only
        .select_related("license_type", "issuer")
        .filter(
            library_code=scope,
            license_type__type_code=type_code,
            issuer__code=issuer_code,
            serial=serial,
        )
        .first()
    )
    if lic is None:
        return False
    from shared.federation.apply import quarantine

    quarantine(lic, list(lic.events.all()), list(lic.versions.all()), sender=scope)
    # its position in a status list is bookkeeping, not a record: it goes with the licence
    StatusListIndex.objects.filter(license=lic).delete()
    QuarantinedRecord.objects.create(
        kind=QuarantinedRecord.Kind.LICENSE,
        license_id=lic.pk,
        library_code=lic.library_code,
        identifier=lic.identifier,
        number=lic.version,
        sender=scope,
        reason="federation.not_issued_by_owner",
        data=license_snapshot(lic) | {"holder": {"name": lic.holder_name}},
    )
    lic.delete()
    return True


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
    # `all` names every licence of the city: keys only, streamed, not a million model objects
    columns = held.order_by().values_list("license_type__type_code", "issuer__code", "serial")
    return sorted(
        base_key(type_code=type_code, issuer_code=issuer_code, serial=serial)
        for type_code, issuer_code, serial in columns.iterator(chunk_size=5000)
    )


def request_resend(peer: Peer, keys: list[str], *, types: list[str] | None = None) -> int:
    """Ask city `peer` to resend licences (by base key) and types; the licences it queued."""
    if not keys and not types:
        return 0
    chunks = [keys[i : i + RESEND_CHUNK] for i in range(0, len(keys), RESEND_CHUNK)] or [[]]
    return sum(
        _request_resend(peer, chunk, types=(types or []) if i == 0 else [])
        for i, chunk in enumerate(chunks)
    )


def _request_resend(peer: Peer, keys: list[str], *, types: list[str]) -> int:
    url = peer.base_url.rstrip("/") + RESEND_PATH
    data: dict[str, list[str]] = {"keys": keys}
    if types:
        data["types"] = types
    try:
        body, headers = signed_json(audience=peer.code, url=url, data=data)
        response = requests.post(
            url,
            data=body,
            headers=headers,
            timeout=settings.FEDERATION_HTTP_TIMEOUT,
            **exchange_tls(),
        )
        response.raise_for_status()
    except requests.RequestException as exc:
        raise RetryableError("federation.peer_unreachable", f"无法请求对端重发：{exc}") from exc
    return int(response.json()["queued"])
