"""Usage flows back (issue #13 item 3): the hub's `access.record` about one of this city's
licences joins this city's access log, once.

Trust nothing but the signature: the sender must be the hub, and the licence must be this
city's (held here, issued here) — otherwise `federation.not_owner`, nothing written. The
record keeps the hub's content (who, agency, matter, purpose, time, outcome) with the licence's
facts as this library holds them (type, issuer, holder digest under this library's key), and
says where it came from (`origin_library`, `origin_id`: the hub's record id). It is written in
the envelope's transaction and chained here like any record (its leaf hash covers the origin),
so the issuer's usage view and CSV and the holder's portal list it once; a second delivery of
the same hub record (unique origin) changes nothing.
"""

from datetime import datetime
from typing import Any

from django.conf import settings

from shared.access.log import CONTENT_FIELDS, content_leaf_hash, log_import
from shared.access.models import AccessRecord
from shared.core.errors import PermanentError
from shared.federation.ownership import NOT_OWNER, NotOwnerError
from shared.licenses.models import License, LicenseVersion


def _licence(identifier: str) -> License | None:
    version = (
        LicenseVersion.objects.select_related("license__license_type", "license__issuer")
        .filter(identifier=identifier)
        .first()
    )
    if version is not None:
        return version.license
    return (
        License.objects.select_related("license_type", "issuer")
        .filter(identifier=identifier)
        .first()
    )


def apply_access_record(payload: dict[str, Any], *, sender: str) -> AccessRecord | None:
    """Import one access record from the hub; None when it is held already."""
    record = payload["record"]
    hub, here = settings.FEDERATION_HUB_CODE, settings.LIBRARY_CODE
    identifier = str(record.get("identifier", ""))
    if sender != hub:
        raise NotOwnerError(
            NOT_OWNER,
            "只有省级枢纽可以下发用证记录",
            {"sender": sender, "record": "access_record", "key": identifier, "owner": hub},
        )
    lic = _licence(identifier) if identifier else None
    if record.get("source_library") != here or lic is None or lic.library_code != here:
        raise NotOwnerError(
            NOT_OWNER,
            "下发的用证记录所涉证照不是本库签发的证照",
            {
                "sender": sender,
                "record": "access_record",
                "key": identifier,
                "owner": lic.library_code if lic is not None else "",
            },
        )
    origin_id = int(record["id"])
    if AccessRecord.objects.filter(origin_library=sender, origin_id=origin_id).exists():
        return None  # delivered before
    content = {name: record[name] for name in CONTENT_FIELDS}
    content["occurred_at"] = datetime.fromisoformat(record["occurred_at"])
    if content_leaf_hash(content) != record.get("leaf_hash"):
        raise PermanentError(
            "access.record_corrupt",
            "下发的用证记录内容与其哈希不符",
            {"identifier": identifier, "origin_id": origin_id},
        )
    row = AccessRecord(
        **{name: content[name] for name in CONTENT_FIELDS},
        origin_library=sender,
        origin_id=origin_id,
    )
    # The licence's facts as this library holds them (the holder digest under its own key).
    row.type_code = lic.license_type.type_code
    row.issuer_code = lic.issuer.code
    row.holder_digest = lic.holder_code_digest
    row.holder_code_type = lic.holder_code_type
    return log_import([row])[0]
