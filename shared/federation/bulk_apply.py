"""The fast path of ingest: licences new to this library, inserted a whole envelope at a time.

Most of what a city sends is new licences (`license.event` of an issue, carrying its first
version). Applied one by one, each costs some fifteen round trips (savepoints, lookups, three
inserts, the arrival); here the envelope's new licences cost a handful of statements in all:
one lookup each for issuers, types, licences already held and identifiers in use, then one
multi-row INSERT per table. Anything else — updates, repairs, types, checkpoints, a licence
this library already holds, a type it does not know yet — goes through the per-event path
(`ingest._apply_one`), in sequence order, after this. Should the bulk insert fail for any reason
(a concurrent writer, a constraint), its savepoint is rolled back and every event takes the
per-event path, which isolates and dead-letters the culprit: the fast path can only be faster,
never different.
"""

from typing import Any

from django.db import transaction
from django.utils import timezone

from shared.accounts.models import Agency
from shared.catalog.models import LicenseType
from shared.core.bulk import copy_insert
from shared.federation.apply import _agency, _date, _license_fields
from shared.federation.arrivals import arrival_for
from shared.federation.models import Arrival
from shared.licenses.models import License, LicenseEvent, LicenseVersion


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


def apply_new_licences(events: list[dict[str, Any]]) -> set[int]:
    """Insert the licences that `events` create and this library lacks; returns the sequence
    numbers applied (the caller applies the others one by one). Runs inside the caller's
    transaction; all or nothing."""
    candidates = [e for e in events if _candidate(e)]
    if len(candidates) < 2:
        return set()  # one licence: the per-event path is as cheap
    try:
        with transaction.atomic():
            return _insert(candidates)
    except Exception:  # noqa: BLE001 - whatever it is, the per-event path will say
        return set()  # rolled back to the savepoint: the per-event path decides each one


def _insert(candidates: list[dict[str, Any]]) -> set[int]:
    snaps = [e["payload"]["license"] for e in candidates]
    agencies = _agencies(snaps)
    types = {
        t.type_code: t
        for t in LicenseType.objects.filter(type_code__in={s["type_code"] for s in snaps})
    }
    held = set(
        License.objects.filter(identifier__in=[s["identifier"] for s in snaps]).values_list(
            "identifier", flat=True
        )
    )
    held_keys = set(  # the licences' natural key, on its unique index
        License.objects.filter(
            issuer_id__in=[a.pk for a in agencies.values()],
            license_type_id__in=[t.pk for t in types.values()],
            serial__in={s["serial"] for s in snaps},
        ).values_list("issuer__code", "license_type__type_code", "serial")
    )
    chosen, seen = [], set()
    for event in candidates:
        snap = event["payload"]["license"]
        key = (snap["issuer"]["code"], snap["type_code"], snap["serial"])
        if (
            snap["type_code"] not in types
            or snap["identifier"] in held
            or key in held_keys
            or key in seen
        ):
            continue  # the per-event path has the answer (and the error) for these
        seen.add(key)
        chosen.append(event)
    if not chosen:
        return set()
    licences = []
    for event in chosen:
        snap = event["payload"]["license"]
        licences.append(
            License(
                license_type=types[snap["type_code"]],
                issuer=agencies[snap["issuer"]["code"]],
                serial=snap["serial"],
                **_license_fields(snap),
            )
        )
    copy_insert(licences, with_ids=True)
    versions, history, arrivals = [], [], []
    now = timezone.now()
    for event, lic in zip(chosen, licences, strict=True):
        payload = event["payload"]
        versions.append(_version(lic, payload["version"]))
        history.append(_event(lic, payload["event"]))
        arrivals.append(arrival_for(lic, payload, now=now))
    copy_insert(versions)
    copy_insert(history)
    held_arrivals = set(
        Arrival.objects.filter(key__in=[a.key for a in arrivals]).values_list("key", flat=True)
    )
    copy_insert([a for a in arrivals if a.key not in held_arrivals])
    return {e["seq"] for e in chosen}


def _agencies(snaps: list[dict[str, Any]]) -> dict[str, Agency]:
    wanted = {s["issuer"]["code"]: s["issuer"] for s in snaps}
    found = {a.code: a for a in Agency.objects.filter(code__in=wanted)}
    for code, snap in wanted.items():
        if code not in found or found[code].name != snap["name"]:
            found[code] = _agency(snap)  # new, or renamed: the per-event rule
    return found


def _version(lic: License, snap: dict[str, Any]) -> LicenseVersion:
    holder = snap["holder"]
    return LicenseVersion(
        license=lic,
        identifier=snap["identifier"],
        version=snap["version"],
        number=snap["number"],
        holder_name=holder["name"],
        holder_code=holder["code"],
        holder_code_type=holder["code_type"],
        issue_date=_date(snap["issue_date"]),
        valid_from=_date(snap["valid_from"]),
        valid_to=_date(snap["valid_to"]),
        matter_code=snap["matter_code"],
        surface=snap["surface"],
        previous_identifier=snap["previous_identifier"],
        content_digest=snap["content_digest"],
    )


def _event(lic: License, snap: dict[str, Any]) -> LicenseEvent:
    data = dict(snap["data"])
    if snap.get("actor"):
        data["actor"] = snap["actor"]
    return LicenseEvent(
        license=lic,
        seq=snap["seq"],
        action=snap["action"],
        from_status=snap["from_status"],
        to_status=snap["to_status"],
        version=snap["version"],
        identifier=snap["identifier"],
        reason=snap["reason"],
        data=data,
        actor_agency_code=snap["actor_agency_code"],
    )
