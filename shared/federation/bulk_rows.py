"""What both fast paths of ingest (`shared.federation.bulk_apply`) share: the envelope's
agencies, types and held licences looked up at once, and version and event rows as values."""

from typing import Any

from django.db.models import QuerySet

from shared.accounts.models import Agency
from shared.catalog.models import LicenseType
from shared.core.holder_codes import holder_code_digest, holder_code_encrypt
from shared.federation import ownership
from shared.federation.apply import _agency
from shared.licenses import codec, keys
from shared.licenses.models import License, LicenseEvent, LicenseVersion
from shared.licenses.selectors import licences_by_natural_key


def natural_keys(
    snaps: list[dict[str, Any]], agencies: dict[str, Agency], types: dict[str, LicenseType]
) -> list[tuple[int, int, str]]:
    """The snapshots' (issuer id, type id, serial), for those whose issuer and type are known."""
    keys = []
    for snap in snaps:
        issuer, license_type = agencies.get(snap["issuer"]["code"]), types.get(snap["type_code"])
        if issuer is not None and license_type is not None:
            keys.append((issuer.pk, license_type.pk, snap["serial"]))
    return keys


def _by_natural_key(
    snaps: list[dict[str, Any]], agencies: dict[str, Agency], types: dict[str, LicenseType]
) -> QuerySet[License]:
    """The licences named by the snapshots' (issuer, type, serial): one index probe each."""
    return licences_by_natural_key(natural_keys(snaps, agencies, types))


def _types(snaps: list[dict[str, Any]], sender: str) -> dict[str, LicenseType]:
    """The known types the snapshots name that `sender` owns; a licence of any other type
    goes one by one (unknown: `type_unknown`; another library's: `not_owner`)."""
    return {
        t.type_code: t
        for t in LicenseType.objects.select_related("issuer").filter(
            type_code__in={s["type_code"] for s in snaps}
        )
        if ownership.agency_owner({}, t.issuer) == sender
    }


def _agencies(snaps: list[dict[str, Any]], sender: str) -> dict[str, Agency]:
    wanted = {s["issuer"]["code"]: s["issuer"] for s in snaps}
    found = {a.code: a for a in Agency.objects.filter(code__in=wanted)}
    for code, snap in wanted.items():
        if code not in found or found[code].name != snap["name"]:
            # new, or renamed: the per-event rule (which checks the sender owns it)
            found[code] = _agency(snap, sender=sender)
    return found


def _version_values(
    license_id: int, snap: dict[str, Any], licence_code: str, licence_row: dict[str, Any]
) -> dict[str, Any]:
    """A version row's columns; the holder code's ciphertext and digest are the licence
    row's when the code is the same (`licence_code`), encrypted anew otherwise."""
    row = codec.version_fields(snap)
    code = row.pop("holder_code")
    if code == licence_code:
        enc, digest = licence_row["holder_code_enc"], licence_row["holder_code_digest"]
    else:
        enc, digest = holder_code_encrypt(code), holder_code_digest(code)
    row.update(
        license_id=license_id,
        holder_code_enc=enc,
        holder_code_digest=digest,
        library_code=licence_row["library_code"],
    )
    return row


def _event_values(license_id: int, snap: dict[str, Any], library_code: str) -> dict[str, Any]:
    """An event row's columns; `library_code` is its licence's (the hub's partition key)."""
    return {"license_id": license_id, **codec.event_fields(snap), "library_code": library_code}


def _missing(
    versions: list[LicenseVersion], history: list[LicenseEvent]
) -> tuple[list[LicenseVersion], list[LicenseEvent]]:
    """The versions and events not held yet. Found by query, not left to ON CONFLICT: at the
    hub the tables are partitioned and their global keys are kept by triggers
    (provincial_hub.aggregation.partitions), which ON CONFLICT cannot see. The licences are
    locked, so nobody adds to their history meanwhile."""
    held_versions, held_identifiers, held_events = keys.held_history(
        {v.license_id for v in versions} | {e.license_id for e in history},
        [v.identifier for v in versions],
    )
    new_versions, new_events = [], []
    for v in versions:  # each once, even when a payload carries it twice
        if (v.license_id, v.version) not in held_versions and v.identifier not in held_identifiers:
            held_versions.add((v.license_id, v.version))
            held_identifiers.add(v.identifier)
            new_versions.append(v)
    for e in history:
        if (e.license_id, e.seq) not in held_events:
            held_events.add((e.license_id, e.seq))
            new_events.append(e)
    return new_versions, new_events
