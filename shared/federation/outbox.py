"""Writing the outbox, in the transaction of the change it reports (STYLE habit 3).

At a city node every change to the node's own licences and catalogue goes up the stream named
after the hub. At the hub, licences issued by provincial systems for a holder of a city go down
the stream named after that city, when that city's node is registered (art. 15).
"""

from typing import Any, cast

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Prefetch
from django.utils import timezone

from shared.accounts.libraries import agency_library
from shared.audit.context import current_request_id
from shared.catalog.models import LicenseType
from shared.core.counters import counter_next
from shared.core.effects import enqueue_on_commit
from shared.domain.status import UNRELEASED
from shared.federation import snapshots
from shared.federation.digests import base_key, natural_keys
from shared.federation.models import OutboxEvent, StreamCounter
from shared.federation.roles import role
from shared.files.models import LicenseFile
from shared.licenses.models import License, LicenseEvent, LicenseVersion
from shared.licenses.selectors import licences_by_natural_key


def _next_seq(stream: str) -> int:
    """Gap-free and in commit order: the counter's row lock is held until commit."""
    return counter_next(StreamCounter, {"stream": stream})


def _insert_numbered(row: OutboxEvent) -> None:
    """Number and insert `row` in one statement (one round trip instead of two): the counter's
    upsert as a data-modifying CTE, its value read by the insert; the counter's row lock lasts
    until commit, as with `_next_seq`."""
    quote = connection.ops.quote_name
    counter, last, name = (quote(n) for n in (StreamCounter._meta.db_table, "last", "stream"))
    fields = [f for f in OutboxEvent._meta.concrete_fields if not f.primary_key]
    seq = f"(SELECT {last} FROM n)"  # noqa: S608 - a column name
    params: list[Any] = [row.stream]
    for field in fields:
        if field.name != "seq":
            params.append(field.get_db_prep_save(field.pre_save(row, add=True), connection))
    sql = (
        f"WITH n AS (INSERT INTO {counter} ({name}, {last}) VALUES (%s, 1) "  # noqa: S608 - model names only
        f"ON CONFLICT ({name}) DO UPDATE SET {last} = {counter}.{last} + 1 RETURNING {last}) "
        f"INSERT INTO {quote(OutboxEvent._meta.db_table)} "
        f"({', '.join(quote(cast(str, f.column)) for f in fields)}) VALUES "
        f"({', '.join(seq if f.name == 'seq' else '%s' for f in fields)}) "
        f"RETURNING {quote('id')}, {quote('seq')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row.pk, row.seq = cursor.fetchone()
    row._state.adding = False


def outbox_write(*, stream: str, kind: str, key: str, payload: dict[str, Any]) -> OutboxEvent:
    row = OutboxEvent(
        stream=stream,
        kind=kind,
        key=key,
        payload=payload,
        request_id=current_request_id(),
        next_attempt_at=timezone.now(),
    )
    if connection.vendor == "postgresql":
        _insert_numbered(row)
    else:  # SQLite (development) has no data-modifying CTE
        row.seq = _next_seq(stream)
        row.save(force_insert=True)
    from shared.federation.tasks import relay_stream

    # A relay run after commit, at once for the first commit in a KICK_INTERVAL window and once
    # more at its end for any later ones (a bulk upload commits hundreds of rows a second; one
    # run sends them all). The beat sweep delivers anything whose kick was lost.
    enqueue_on_commit(relay_stream, stream, coalesce=KICK_INTERVAL)
    return row


KICK_INTERVAL = 0.2  # seconds: a relay run sends everything committed so far


def license_key(lic: License) -> str:
    return base_key(
        type_code=lic.license_type.type_code, issuer_code=lic.issuer.code, serial=lic.serial
    )


def holder_city(code: str, code_type: str) -> str | None:
    """The city a holder belongs to, from the area code inside the holder's code."""
    if code_type == "111" and len(code) == 18:
        return code[:4] + "00"
    if code_type == "001" and len(code) == 18:
        return code[2:6] + "00"
    return None


def streams_for(lic: License) -> list[str]:
    """Up to the hub at a node, down to the holder's city at the hub: the tier decides."""
    return role().streams_for(lic)


def license_payload(
    lic: License,
    event: LicenseEvent,
    new_version: bool,
    version: LicenseVersion | None = None,
) -> dict[str, Any]:
    if not new_version:
        version = None
    elif version is None or version.version != lic.version:
        version = LicenseVersion.objects.filter(license=lic, version=lic.version).first()
    return {
        "schema": snapshots.SCHEMA,
        "license": snapshots.license_snapshot(lic),
        "event": snapshots.event_snapshot(event),
        "version": snapshots.version_snapshot(version) if version else None,
        "committed_at": timezone.now().isoformat(),
    }


def repair_payload(lic: License) -> dict[str, Any]:
    """The whole licence: every version and event, for a receiver that lacks it or holds it
    stale (reconciliation). Uses the versions and events prefetched by `licences_by_key`."""
    cached = getattr(lic, "_prefetched_objects_cache", {})
    versions = cached["versions"] if "versions" in cached else lic.versions.order_by("version")
    events = (
        cached["events"]
        if "events" in cached
        else lic.events.select_related("actor").order_by("seq")
    )
    payload = {
        "schema": snapshots.SCHEMA,
        "license": snapshots.license_snapshot(lic),
        "versions": [snapshots.version_snapshot(v) for v in versions],
        "events": [snapshots.event_snapshot(e) for e in events],
        "committed_at": timezone.now().isoformat(),
    }
    role().repair_payload_extend(lic, payload)
    return payload


def licences_by_key(keys: list[str], *, library_code: str = "") -> dict[str, License]:
    """This library's released licences named by base keys, with their versions and events,
    in a few queries whatever their number (reconciliation resends hundreds at once).
    `library_code`: another library's licences held here instead (the hub's copy of a city's,
    which a city restored from an older dump takes back)."""
    wanted = set(keys)
    exact = natural_keys(wanted)
    licences = (
        licences_by_natural_key(exact)
        .select_related("license_type", "issuer")
        .prefetch_related(
            Prefetch("versions", queryset=LicenseVersion.objects.order_by("version")),
            Prefetch(
                "events", queryset=LicenseEvent.objects.select_related("actor").order_by("seq")
            ),
            Prefetch(
                "files",
                queryset=LicenseFile.objects.filter(state=LicenseFile.State.READY).order_by("id"),
                to_attr="ready_files",
            ),
        )
        .filter(library_code=library_code or settings.LIBRARY_CODE)
        .exclude(status__in=UNRELEASED)
    )
    return {key: lic for lic in licences if (key := license_key(lic)) in wanted}


def on_license_changed(
    sender: Any,
    *,
    license: License,  # noqa: A002
    event: LicenseEvent,
    new_version: bool,
    version: LicenseVersion | None = None,
    **_: Any,
) -> None:
    if license.status in UNRELEASED:
        return  # not released: nothing leaves the agency before review (art. 14)
    streams = streams_for(license)
    if not streams:
        return
    payload = license_payload(license, event, new_version, version)
    if event.action == "approve":
        # The first time the licence leaves the library: send it whole.
        payload = repair_payload(license) | {"event": payload["event"]}
        kind = "license.repair"
    else:
        kind = "license.event"
    role().license_payload_extend(license, payload)
    for stream in streams:
        outbox_write(stream=stream, kind=kind, key=license_key(license), payload=payload)


def on_license_type_changed(sender: Any, *, license_type: LicenseType, **_: Any) -> None:
    if license_type.state == LicenseType.State.DRAFT:
        return
    for stream in role().type_streams(license_type):
        outbox_write(
            stream=stream,
            kind="catalog.type",
            key=license_type.type_code,
            payload={"schema": snapshots.SCHEMA, "type": snapshots.type_snapshot(license_type)},
        )


RESEND_CHUNK = 500  # licences read (with their history) and queued per transaction


def license_resend(*, stream: str, keys: list[str]) -> int:
    """Queue a whole-licence repair for each base key this library holds (reconciliation), a
    chunk at a time: after a restore the keys may be a million, and each chunk's licences are
    read whole with their versions, events and files. A chunk's repairs commit together; a
    crash between chunks leaves the rest for the next reconciliation, which finds them again."""
    sent = 0
    for start in range(0, len(keys), RESEND_CHUNK):
        chunk = keys[start : start + RESEND_CHUNK]
        found = licences_by_key(chunk)
        with transaction.atomic():
            for key in chunk:
                if key in found:
                    outbox_write(
                        stream=stream,
                        kind="license.repair",
                        key=key,
                        payload=repair_payload(found[key]),
                    )
        sent += len(found)
    return sent


def type_resend(*, stream: str, type_codes: list[str]) -> int:
    """Queue a `catalog.type` event for each published type this library owns among
    `type_codes` (catalogue reconciliation), in one transaction."""
    wanted = set(type_codes)
    types = [
        t
        for t in LicenseType.objects.select_related("issuer")
        .filter(type_code__in=wanted)
        .exclude(state=LicenseType.State.DRAFT)
        .order_by("type_code")
        if agency_library(level=t.issuer.level, area_code=t.issuer.area_code)
        == settings.LIBRARY_CODE
    ]
    with transaction.atomic():
        for license_type in types:
            outbox_write(
                stream=stream,
                kind="catalog.type",
                key=license_type.type_code,
                payload={"schema": snapshots.SCHEMA, "type": snapshots.type_snapshot(license_type)},
            )
    return len(types)
