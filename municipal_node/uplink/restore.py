"""A city restored from an older dump takes back from the hub what it lost (issue #16).

What the city issued or changed after the dump reached the hub (signed by the city) before the
city lost it. Compared by digests as reconciliation does, the hub's copy shows which: licences
only the hub holds, and licences both hold but differently. Of those, each one the hub holds at
a later state (`last_event_seq`) than the city is fetched whole (`POST /api/v1/exchange/recover/`
at the hub) and applied here as the owner's own repair; one the city holds at the same or a
later state stays, and the next reconciliation sends it up as usual. The serial counters then
move past every recovered serial, so no new licence takes a number the lost ones had.
"""

from collections.abc import Iterator
from typing import Any

import requests
from django.conf import settings
from django.db import transaction

from shared.core.errors import RetryableError
from shared.exchange.reconcile import compare
from shared.federation.apply import apply_license_repair
from shared.federation.auth import signed_json
from shared.federation.keys import peer_get
from shared.federation.outbox import license_key
from shared.federation.reconciliation import HttpDigests, local_digests
from shared.federation.tls import exchange_tls
from shared.licenses.models import License, SerialCounter

RECOVER_PATH = "/api/v1/exchange/recover/"
CHUNK = 500


def _fetch(peer: Any, keys: list[str]) -> Iterator[list[dict[str, Any]]]:
    """The hub's copies of `keys`, CHUNK at a time."""
    url = peer.base_url.rstrip("/") + RECOVER_PATH
    for i in range(0, len(keys), CHUNK):
        try:
            body, headers = signed_json(
                audience=peer.code, url=url, data={"keys": keys[i : i + CHUNK]}
            )
            response = requests.post(
                url,
                data=body,
                headers=headers,
                timeout=settings.FEDERATION_HTTP_TIMEOUT,
                **exchange_tls(),  # the exchange listener asks for the client certificate
            )
            response.raise_for_status()
        except requests.RequestException as exc:
            raise RetryableError(
                "federation.peer_unreachable", f"无法从省级库取回证照：{exc}"
            ) from exc
        yield response.json()["licences"]


def _held_seq(snap: dict[str, Any]) -> int | None:
    row = (
        License.objects.filter(
            library_code=settings.LIBRARY_CODE,
            license_type__type_code=snap["type_code"],
            issuer__code=snap["issuer"]["code"],
            serial=snap["serial"],
        )
        .values_list("last_event_seq", flat=True)
        .first()
    )
    return row


def serials_advance(licences: list[License]) -> set[tuple[int, int, int]]:
    """Move each (issuer, type, year) serial counter past the serials of `licences`
    (`YYYY` + a 7-digit number, `shared.licenses.issuing`); the counters that moved."""
    top: dict[tuple[int, int, int], int] = {}
    for lic in licences:
        if len(lic.serial) == 11 and lic.serial.isdigit():
            key = (lic.issuer_id, lic.license_type_id, int(lic.serial[:4]))
            top[key] = max(top.get(key, 0), int(lic.serial[4:]))
    moved = set()
    for (issuer, license_type, year), last in top.items():
        counter, _ = SerialCounter.objects.select_for_update().get_or_create(
            issuer_id=issuer, license_type_id=license_type, year=year
        )
        if counter.last < last:
            counter.last = last
            counter.save(update_fields=["last"])
            moved.add((issuer, license_type, year))
    return moved


def licences_recover() -> dict[str, Any]:
    """Take back from the hub this city's licences it lost; see the module docstring."""
    hub = peer_get(settings.FEDERATION_HUB_CODE)
    scope = settings.LIBRARY_CODE
    diff = compare(local_digests(scope), HttpDigests(hub, scope=scope))
    asked = sorted(set(diff.missing_local) | set(diff.different))
    # A chunk at a time, each in its own transaction: a city that lost a day holds tens of
    # thousands, and a run stopped half way is run again (what it applied is held now, kept).
    recovered, kept, keys = 0, 0, list[str]()
    moved: set[tuple[int, int, int]] = set()
    for payloads in _fetch(hub, asked):
        with transaction.atomic():
            chunk: list[License] = []
            for payload in payloads:
                snap = payload["license"]
                held = _held_seq(snap)
                if held is not None and held >= snap["last_event_seq"]:
                    kept += 1
                    continue  # the city's state is as late: it goes up at the next reconciliation
                chunk.append(apply_license_repair(payload, sender=scope))
            moved |= serials_advance(chunk)
        recovered += len(chunk)
        keys += [license_key(lic) for lic in chunk][: 1000 - len(keys)]
    return {
        "only_at_hub": len(diff.missing_local),
        "different": len(diff.different),
        "missing_at_hub": len(diff.missing_remote),
        "recovered": recovered,
        "kept_here": kept,
        "serial_counters_moved": len(moved),
        "keys": sorted(keys),
    }
