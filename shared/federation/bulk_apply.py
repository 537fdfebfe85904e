"""The fast paths of ingest: new licences and whole-licence repairs, a whole envelope at a time.

Most of what a city sends is new licences (`license.event` of an issue, carrying its first
version). Applied one by one, each costs some fifteen round trips (savepoints, lookups, three
inserts, the arrival); here the envelope's new licences cost a handful of statements in all:
one lookup each for issuers, types, licences already held and identifiers in use, then COPY
into each table (`shared.core.bulk`). Anything else — updates, repairs, types, checkpoints, a licence
this library already holds, a type it does not know yet — goes through the per-event path
(`ingest._apply_one`), in sequence order, after this. Should the bulk insert fail for any reason
(a concurrent writer, a constraint), its savepoint is rolled back and every event takes the
per-event path, which isolates and dead-letters the culprit: the fast path can only be faster,
never different.

Ownership (`shared.federation.ownership`) is checked here too, before anything is written: an
event whose licence, or issuer agency, the sender does not own is never taken by a fast path;
the per-event path then refuses it with `federation.not_owner`, as it would any such event.
"""

import logging
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from psycopg.errors import UniqueViolation

from shared.accounts.models import Agency
from shared.calendars.selectors import workday_calendar
from shared.catalog.models import LicenseType
from shared.core.bulk import copy_insert, copy_update, copy_values, present
from shared.core.holder_codes import holder_code_digest, holder_code_encrypt
from shared.federation import ownership
from shared.federation.apply import _record_files, carried_history, quarantine
from shared.federation.arrivals import arrival_for, arrival_values
from shared.federation.bulk_rows import (
    _agencies,
    _by_natural_key,
    _event_values,
    _missing,
    _types,
    _version_values,
    natural_keys,
)
from shared.federation.models import Arrival
from shared.licenses import codec, keys
from shared.licenses.models import License, LicenseEvent, LicenseVersion

logger = logging.getLogger(__name__)


def _candidate(event: dict[str, Any]) -> bool:
    payload = event.get("payload")
    if event.get("kind") != "license.event" or not isinstance(payload, dict):
        return False
    ev, version = payload.get("event"), payload.get("version")
    return (
        "type" not in payload  # a licence from the hub carries its type: per event
        and isinstance(ev, dict)
        and ev.get("action") == "issue"
        and ev.get("seq") == 1
        and isinstance(version, dict)
        and isinstance(payload.get("license"), dict)
    )


def _owned(candidates: list[dict[str, Any]], sender: str) -> list[dict[str, Any]]:
    """The candidates whose licence snapshot and issuer agency `sender` owns (as stored here,
    or as the snapshot says for an agency this library lacks); one query for the agencies."""
    snaps = [e["payload"]["license"] for e in candidates]
    stored: dict[Any, Agency] = {  # looked up by whatever code a snapshot carries
        a.code: a
        for a in Agency.objects.filter(
            code__in={s["issuer"]["code"] for s in snaps if isinstance(s.get("issuer"), dict)}
        )
    }
    owned = []
    for event, snap in zip(candidates, snaps, strict=True):
        issuer = snap.get("issuer")
        if (
            snap.get("library_code") == sender
            and isinstance(issuer, dict)
            and ownership.owns_agency(issuer, stored.get(issuer.get("code")), sender=sender)
        ):
            owned.append(event)
    return owned


def apply_new_licences(events: list[dict[str, Any]], sender: str) -> set[int]:
    """Insert the licences that `events` create and this library lacks; returns the sequence
    numbers applied (the caller applies the others one by one). Runs inside the caller's
    transaction; all or nothing. Only licences `sender` owns are taken."""
    candidates = [e for e in events if _candidate(e)]
    if len(candidates) < 2:
        return set()  # one licence: the per-event path is as cheap
    try:
        with transaction.atomic():
            candidates = _owned(candidates, sender)
            if len(candidates) < 2:
                return set()
            return _insert_new(candidates, sender)
    except Exception:  # noqa: BLE001 - whatever it is, the per-event path will say
        logger.warning("ingest: bulk insert fell back to one by one", exc_info=True)
        return set()  # rolled back to the savepoint: the per-event path decides each one


def _insert_new(candidates: list[dict[str, Any]], sender: str) -> set[int]:
    """A new licence's event is nearly always for a licence this library does not hold, so on
    PostgreSQL the envelope is inserted without first asking which are held: those three
    lookups of a thousand keys each were ~10 µs per licence of the hub's database (bench/sync).
    One that is held fails a unique index (identifier, natural key or arrival: all unique),
    the attempt is rolled back to its savepoint, and the envelope goes again, asking first."""
    if connection.vendor == "postgresql":
        try:
            with transaction.atomic():
                return _insert(candidates, sender, checked=False)
        except (IntegrityError, UniqueViolation):
            logger.info("ingest: a new licence is held here already; inserting after checking")
    return _insert(candidates, sender, checked=True)


def _insert(candidates: list[dict[str, Any]], sender: str, *, checked: bool) -> set[int]:
    """`checked`: leave out the licences held here (else the caller has a unique index
    refuse them)."""
    chosen, agencies, types = _insertable(candidates, sender, checked=checked)
    if not chosen:
        return set()
    # Rows as plain values, not model instances: at thousands a second their constructors
    # would cost more than the database's work. The stored columns are given as the models'
    # setters would write them (the holder code encrypted and digested once, for both rows).
    rows, codes = [], []
    for event in chosen:
        snap = event["payload"]["license"]
        row = codec.license_fields(snap)
        code = row.pop("holder_code")
        row.update(
            license_type_id=types[snap["type_code"]].pk,
            issuer_id=agencies[snap["issuer"]["code"]].pk,
            serial=snap["serial"],
            holder_code_enc=holder_code_encrypt(code),
            holder_code_digest=holder_code_digest(code),
        )
        rows.append(row)
        codes.append(code)
    ids = copy_values(License, rows, with_ids=True)
    _insert_history(chosen, rows, codes, ids, checked=checked)
    return {e["seq"] for e in chosen}


def _insertable(
    candidates: list[dict[str, Any]], sender: str, *, checked: bool = True
) -> tuple[list[dict[str, Any]], dict[str, Agency], dict[str, LicenseType]]:
    """The candidates the fast path can insert (a known type, a licence and identifier not held
    here (`checked`), once in the envelope), with the agencies and types they name."""
    snaps = [e["payload"]["license"] for e in candidates]
    agencies = _agencies(snaps, sender)
    types = _types(snaps, sender)
    held: set[str] = set()
    held_keys: set[tuple[int, int, str]] = set()
    if checked:
        held = keys.held_identifiers(s["identifier"] for s in snaps)
        held_keys = keys.held_natural_keys(natural_keys(snaps, agencies, types))
    chosen, seen = [], set()
    for event in candidates:
        snap = event["payload"]["license"]
        key = (snap["issuer"]["code"], snap["type_code"], snap["serial"])
        if (
            snap["type_code"] not in types
            or snap["identifier"] in held
            or (agencies[key[0]].pk, types[key[1]].pk, key[2]) in held_keys
            or key in seen
        ):
            continue  # the per-event path has the answer (and the error) for these
        seen.add(key)
        chosen.append(event)
    return chosen, agencies, types


def _insert_history(
    chosen: list[dict[str, Any]],
    rows: list[dict[str, Any]],
    codes: list[str],
    ids: list[int],
    *,
    checked: bool,
) -> None:
    """The inserted licences' first versions, events and arrivals (an arrival already held is
    kept)."""
    versions, history, arrivals = [], [], []
    now, calendar, tz = timezone.now(), workday_calendar(), timezone.get_current_timezone()
    for event, row, code, pk in zip(chosen, rows, codes, ids, strict=True):
        payload = event["payload"]
        snap = payload["license"]
        versions.append(_version_values(pk, payload["version"], code, row))
        history.append(_event_values(pk, payload["event"], row["library_code"]))
        arrivals.append(
            arrival_values(
                type_code=snap["type_code"],
                issuer_code=snap["issuer"]["code"],
                serial=snap["serial"],
                library_code=row["library_code"],
                mode=row["mode"],
                case_completed_at=row["case_completed_at"],
                payload=payload,
                now=now,
                calendar=calendar,
                tz=tz,
            )
        )
    copy_values(LicenseVersion, versions)
    copy_values(LicenseEvent, history)
    held_arrivals = present(Arrival, "key", (a["key"] for a in arrivals)) if checked else set()
    copy_values(Arrival, [a for a in arrivals if a["key"] not in held_arrivals])


# --- repairs ---------------------------------------------------------------------------------


def apply_repairs(events: list[dict[str, Any]], sender: str) -> set[int]:
    """Apply the envelope's whole-licence repairs (reconciliation resends hundreds at once) in a
    few statements: authoritative for the licence row, versions and events inserted where
    missing — exactly `apply.apply_license_repair`, for many licences at once. Returns the
    sequence numbers applied; the rest (and everything, on any failure) go one by one."""
    candidates = [
        e
        for e in events
        if e.get("kind") == "license.repair"
        and isinstance(e.get("payload"), dict)
        and "type" not in e["payload"]
        and isinstance(e["payload"].get("license"), dict)
    ]
    if len(candidates) < 2:
        return set()
    try:
        with transaction.atomic():
            candidates = _owned(candidates, sender)
            if len(candidates) < 2:
                return set()
            return _repair(candidates, sender)
    except Exception:  # noqa: BLE001 - whatever it is, the per-event path will say
        logger.warning("ingest: bulk repair fell back to one by one", exc_info=True)
        return set()


# What a repair overwrites on a licence row: the columns a snapshot carries, as stored.
REPAIRED_COLUMNS = [*codec.stored_columns(codec.LICENSE), "updated_at"]


def _history_enforce(
    stale: list[License], payloads: dict[int, dict[str, Any]], sender: str
) -> None:
    """`apply.history_enforce` for many licences: two queries, then a quarantine per licence
    that holds events or versions the owner's repair does not carry as they are here."""
    from shared.federation.apply import _event_differs, _version_differs

    if not stale:
        return
    ids = [lic.pk for lic in stale]
    events: dict[int, list[LicenseEvent]] = {}
    for e in LicenseEvent.objects.filter(license_id__in=ids).select_related("actor"):
        events.setdefault(e.license_id, []).append(e)
    versions: dict[int, list[LicenseVersion]] = {}
    for v in LicenseVersion.objects.filter(license_id__in=ids):
        versions.setdefault(v.license_id, []).append(v)
    for lic in stale:
        carried = carried_history(payloads[id(lic)])
        if carried is None:
            continue
        by_seq, by_identifier = carried
        bad_events = [e for e in events.get(lic.pk, []) if _event_differs(e, by_seq.get(e.seq))]
        bad_versions = [
            v
            for v in versions.get(lic.pk, [])
            if _version_differs(v, by_identifier.get(v.identifier))
        ]
        quarantine(lic, bad_events, bad_versions, sender=sender)


def _key(snap: dict[str, Any]) -> tuple[str, str, str]:
    return (snap["issuer"]["code"], snap["type_code"], snap["serial"])


def _repair(candidates: list[dict[str, Any]], sender: str) -> set[int]:
    snaps = [e["payload"]["license"] for e in candidates]
    agencies = _agencies(snaps, sender)
    types = _types(snaps, sender)
    held = {
        (lic.issuer.code, lic.license_type.type_code, lic.serial): lic
        for lic in _by_natural_key(snaps, agencies, types)
        .select_for_update(of=("self",))
        .select_related("issuer", "license_type")
    }
    chosen = _repairable(candidates, snaps, held, agencies, types, sender)
    if not chosen:
        return set()
    fresh, stale = [], []
    for event in chosen:
        snap = event["payload"]["license"]
        fields = codec.license_fields(snap)
        lic = held.get(_key(snap))
        if lic is None:
            lic = License(
                license_type=types[snap["type_code"]],
                issuer=agencies[snap["issuer"]["code"]],
                serial=snap["serial"],
                **fields,
            )
            fresh.append(lic)
        else:
            for name, value in fields.items():
                setattr(lic, name, value)
            stale.append(lic)
        event["_licence"] = lic
    _history_enforce(stale, {id(e["_licence"]): e["payload"] for e in chosen}, sender)
    copy_insert(fresh, with_ids=True)
    if stale:
        now = timezone.now()
        for lic in stale:
            lic.updated_at = now  # as save() would
        copy_update(stale, REPAIRED_COLUMNS)
    _repair_history(chosen)
    for event in chosen:
        _record_files(event["payload"], sender)
    return {e["seq"] for e in chosen}


def _repairable(
    candidates: list[dict[str, Any]],
    snaps: list[dict[str, Any]],
    held: dict[tuple[str, str, str], License],
    agencies: dict[str, Agency],
    types: dict[str, LicenseType],
    sender: str,
) -> list[dict[str, Any]]:
    """The candidates the fast path can repair; the rest go one by one (which says why)."""
    # identifier → (issuer id, type id, serial) of the licence that holds it here
    owners = keys.identifier_owners(s["identifier"] for s in snaps)
    chosen, seen = [], set()
    for event in candidates:
        snap = event["payload"]["license"]
        key = _key(snap)
        owner = owners.get(snap["identifier"])
        held_lic = held.get(key)
        if (
            snap["type_code"] not in types
            or key in seen
            or (owner and owner != (agencies[key[0]].pk, types[key[1]].pk, key[2]))
            or (held_lic is not None and held_lic.library_code != sender)
        ):
            # unknown type, twice in the envelope, identifier taken, another library's
            # licence: one by one (which says why)
            continue
        seen.add(key)
        chosen.append(event)
    return chosen


def _repair_history(chosen: list[dict[str, Any]]) -> None:
    """The repaired licences' missing versions and events, and their arrivals; each event's
    ``_licence`` (its licence, saved) is taken off it here."""
    versions, history, arrivals = [], [], []
    now, calendar = timezone.now(), workday_calendar()
    for event in chosen:
        payload, lic = event["payload"], event.pop("_licence")
        code = payload["license"]["holder"]["code"]
        stored = {
            "holder_code_enc": lic.holder_code_enc,
            "holder_code_digest": lic.holder_code_digest,
            "library_code": lic.library_code,
        }
        versions += [
            LicenseVersion(**_version_values(lic.pk, v, code, stored))
            for v in payload.get("versions", [])
        ]
        city = lic.library_code
        history += [
            LicenseEvent(**_event_values(lic.pk, e, city)) for e in payload.get("events", [])
        ]
        if payload.get("event"):
            history.append(LicenseEvent(**_event_values(lic.pk, payload["event"], city)))
        arrivals.append(arrival_for(lic, payload, now=now, calendar=calendar))
    # Versions and events are immutable: insert the missing ones, keep what is there.
    versions, history = _missing(versions, history)
    LicenseVersion.objects.bulk_create(versions, ignore_conflicts=True)
    LicenseEvent.objects.bulk_create(history, ignore_conflicts=True)
    held_arrivals = present(Arrival, "key", (a.key for a in arrivals))
    copy_insert([a for a in arrivals if a.key not in held_arrivals])
