"""Matching the province against the watches (issue #14 item 5), at the hub.

Three feeds, each inside the transaction that makes what it reports:
- a city's licence events, as the hub applies them (`shared.federation.ingest`'s applied
  listener): every `license.event`, and the newest event of a `license.repair`;
- the hub's own licence changes (`license_changed`: provincial issuers issue here);
- every access record the hub chains (`shared.access.log`'s sequenced listener) that names a
  licence.

The holder code of an incoming licence is digested under the hub's key and looked up among
the active watches (under every readable key version while a holder-code key rotation runs:
`shared.holder_keys`); only what happened at or after the watch's `since` counts. Each match is
one `WatchHit` (unique per watch, kind and source: a licence's event, or an access record), and
a new hit is sent to the watch's home in the same transaction — an outbox row `watch.alert` on
the home city's stream, or the alert stored here for a watch made at the hub's own portal.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from provincial_hub.watch.models import WatchHit
from shared.access.models import AccessRecord
from shared.accounts.models import Agency
from shared.catalog.models import LicenseType
from shared.conf.divisions import CITIES, PROVINCE_NAME
from shared.core.effects import enqueue_on_commit
from shared.core.holder_codes import holder_code_digests, holder_digests_of, holder_keyring
from shared.domain.status import ACTION_LABELS, UNRELEASED, Action
from shared.federation.digests import base_key
from shared.federation.outbox import license_key, outbox_write
from shared.licenses.models import License, LicenseEvent
from shared.watch.models import Watch
from shared.watch.services import watch_alert_store
from shared.watch.wire import ALERT_KIND, SCHEMA

ISSUING_ACTIONS = {"issue", "approve"}  # a licence's first release


@dataclass(frozen=True, slots=True, kw_only=True)
class Happening:
    """Something under a holder's identity that a watch may match."""

    holder_digests: tuple[str, ...]  # one per readable key version (one outside a rotation)
    holder_code_type: str
    kind: str
    source: str
    occurred_at: datetime
    alert: dict[str, Any]


def library_name(code: str) -> str:
    if code == settings.LIBRARY_CODE:
        return f"{PROVINCE_NAME}电子证照库"
    return f"{CITIES[code]}电子证照库" if code in CITIES else ""


def _action_label(action: str) -> str:
    try:
        return ACTION_LABELS[Action(action)]
    except ValueError:
        return action


def _licence_alert(
    *, identifier: str, library_code: str, issuer: dict[str, str], type_code: str, action: str
) -> dict[str, Any]:
    return {
        "action": action,
        "action_label": _action_label(action),
        "identifier": identifier,
        "type_code": type_code,
        "type_name": "",  # filled for the matches only (one query)
        "library_code": library_code,
        "library_name": library_name(library_code),
        "issuer_code": issuer.get("code", ""),
        "issuer_name": issuer.get("name", ""),
        "agency_name": "",
    }


def _moment(value: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if timezone.is_aware(moment) else None


def _from_payload(payload: dict[str, Any]) -> Happening | None:
    snap, event = payload.get("license"), payload.get("event")
    if not event and isinstance(payload.get("events"), list) and payload["events"]:
        event = max(payload["events"], key=lambda e: e["seq"])
    if not isinstance(snap, dict) or not isinstance(event, dict):
        return None
    holder = snap.get("holder") or {}
    occurred_at = _moment(event.get("created_at")) or timezone.now()
    action = str(event.get("action", ""))
    base = base_key(
        type_code=snap["type_code"], issuer_code=snap["issuer"]["code"], serial=snap["serial"]
    )
    return Happening(
        holder_digests=tuple(holder_code_digests(str(holder.get("code", "")))),
        holder_code_type=str(holder.get("code_type", "")),
        kind="issued" if action in ISSUING_ACTIONS else "changed",
        source=f"{base}#{event['seq']}",
        occurred_at=occurred_at,
        alert=_licence_alert(
            identifier=str(snap.get("identifier", "")),
            library_code=str(snap.get("library_code", "")),
            issuer=snap.get("issuer") or {},
            type_code=str(snap["type_code"]),
            action=action,
        ),
    )


def _watched() -> bool:
    return Watch.objects.filter(state=Watch.State.ACTIVE).exists()


def events_applied(sender: str, events: list[dict[str, Any]]) -> None:
    """The ingest's applied listener: the licence events a city just delivered."""
    if not _watched():
        return
    happenings = [
        h
        for e in events
        if e.get("kind") in ("license.event", "license.repair")
        and isinstance(e.get("payload"), dict)
        and (h := _from_payload(e["payload"])) is not None
    ]
    match(happenings)


def licence_changed(
    sender: Any,
    *,
    license: License,
    event: LicenseEvent,
    **_: Any,  # noqa: A002
) -> None:
    """`license_changed` at the hub: the hub's own issuers' licences (released ones)."""
    if license.status in UNRELEASED or not _watched():
        return
    match(
        [
            Happening(
                holder_digests=tuple(holder_digests_of(license)),
                holder_code_type=license.holder_code_type,
                kind="issued" if event.action in ISSUING_ACTIONS else "changed",
                source=f"{license_key(license)}#{event.seq}",
                occurred_at=event.created_at or timezone.now(),
                alert=_licence_alert(
                    identifier=license.identifier,
                    library_code=license.library_code,
                    issuer={"code": license.issuer.code, "name": license.issuer.name},
                    type_code=license.license_type.type_code,
                    action=event.action,
                ),
            )
        ]
    )


def records_sequenced(ids: list[int]) -> None:
    """The sequencer's listener: the access records just chained that name a watched licence."""
    named = set(
        AccessRecord.objects.filter(pk__in=ids)
        .exclude(identifier="")
        .exclude(holder_digest="")
        .values_list("holder_digest", flat=True)
    )
    digests = _watched_of(named)
    if not digests:
        return
    records = list(
        AccessRecord.objects.filter(pk__in=ids, holder_digest__in=digests)
        .exclude(identifier="")
        .order_by("seq")
    )
    issuers = dict(
        Agency.objects.filter(code__in={r.issuer_code for r in records}).values_list("code", "name")
    )
    match([_from_record(r, issuers) for r in records])


def _from_record(record: AccessRecord, issuers: dict[str, str]) -> Happening:
    label = AccessRecord.Operation(record.operation).label
    if record.outcome != AccessRecord.Outcome.ALLOWED:
        label = f"{label}（{record.get_outcome_display()}）"
    alert = _licence_alert(
        identifier=record.identifier,
        library_code=record.source_library,
        issuer={"code": record.issuer_code, "name": issuers.get(record.issuer_code, "")},
        type_code=record.type_code,
        action=record.operation,
    )
    alert.update(action_label=label, agency_name=record.agency_name or record.username)
    return Happening(
        holder_digests=(record.holder_digest,),
        holder_code_type=record.holder_code_type,
        kind="queried",
        source=f"access:{record.pk}",
        occurred_at=record.occurred_at,
        alert=alert,
    )


def records_appended(rows: list[AccessRecord]) -> None:
    """A record about a watched holder's licence asks for the sequencer soon."""
    digests = {r.holder_digest for r in rows if r.identifier and r.holder_digest}
    if digests and _watched_of(digests):
        from shared.access.tasks import sequence

        enqueue_on_commit(sequence, coalesce=0.5)


def match(happenings: Iterable[Happening]) -> list[WatchHit]:
    """One hit per (watch, kind, source) for each active watch of the happening's holder that
    was made before it; each new hit goes home. Returns the new hits."""
    happenings = list(happenings)
    if not happenings:
        return []
    watches = _watch_index({d for h in happenings for d in h.holder_digests})
    pairs = [
        (h, w)
        for h in happenings
        for w in {
            w.pk: w for d in h.holder_digests for w in watches.get((d, h.holder_code_type), [])
        }.values()
        if h.occurred_at >= w.since
    ]
    if not pairs:
        return []
    names = dict(
        LicenseType.objects.filter(
            type_code__in={h.alert["type_code"] for h, _ in pairs}
        ).values_list("type_code", "name")
    )
    hits = []
    for happening, watch in pairs:
        alert = happening.alert | {
            "kind": happening.kind,
            "type_name": names.get(happening.alert["type_code"], ""),
            "occurred_at": happening.occurred_at.isoformat(),
        }
        hit, created = WatchHit.objects.get_or_create(
            watch=watch,
            kind=happening.kind,
            source=happening.source,
            defaults={
                "identifier": alert["identifier"][:120],
                "library_code": alert["library_code"][:6],
                "occurred_at": happening.occurred_at,
                "alert": alert,
            },
        )
        if created:
            _send_home(hit)
            hits.append(hit)
    return hits


def _rotating() -> bool:
    return len(holder_keyring().readable) > 1


def _watched_of(digests: set[str]) -> set[str]:
    """Those of `digests` an active watch is for. One indexed lookup of these digests (it runs
    on every access append at the hub, and watches may be hundreds of thousands); during a key
    rotation a watch's digest may be of the other version, so every active watch is read under
    every readable version (a rotation is rare and short)."""
    if not digests:
        return set()
    active = Watch.objects.filter(state=Watch.State.ACTIVE)
    if not _rotating():
        found = active.filter(holder_code_digest__in=digests).values_list(
            "holder_code_digest", flat=True
        )
        return set(found)
    return digests & {d for watch in active for d in holder_digests_of(watch)}


def _watch_index(digests: set[str]) -> dict[tuple[str, str], list[Watch]]:
    """Active watches by (digest, code type), oldest first. During a rotation a watch and a
    happening may carry different versions' digests: every watch is indexed under all of its
    own (a rotation is rare and short; watches are few per holder)."""
    active = Watch.objects.filter(state=Watch.State.ACTIVE).order_by("created_at")
    if not _rotating():
        active = active.filter(holder_code_digest__in=digests)
    index: dict[tuple[str, str], list[Watch]] = {}
    for watch in active:
        for digest in holder_digests_of(watch) if _rotating() else [watch.holder_code_digest]:
            index.setdefault((digest, watch.holder_code_type), []).append(watch)
    return index


def _send_home(hit: WatchHit) -> None:
    watch = hit.watch
    if watch.home_library == settings.LIBRARY_CODE:
        watch_alert_store(
            watch=watch, origin_library=settings.LIBRARY_CODE, origin_id=hit.pk, alert=hit.alert
        )
        return
    outbox_write(
        stream=watch.home_library,
        kind=ALERT_KIND,
        key=str(watch.pk),
        payload={"schema": SCHEMA, "alert": {"id": hit.pk, "watch": str(watch.pk), **hit.alert}},
    )
