"""The provincial trust list, the hub's side (issue #13, item 1).

Every city reports its public trust material (`trust.keys`, checked by
`shared.federation.trust.trust_keys_check`: only its own, and only seals of its own agencies);
the hub keeps one `LibraryTrust` row per library, its own included, and publishes one list of
all of them, signed with its federation key, with a version that grows whenever any library's
material changes. The published list is also the hub's own copy (`ProvincialTrustList`), so the
hub verifies a city's QR token or file exactly as a node does.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from provincial_hub.aggregation.models import LibraryTrust
from shared.accounts.models import Agency
from shared.crypto.tokens import read_token_header
from shared.domain.canonical import canonical_json, sm3_hex
from shared.federation import ownership
from shared.federation.trust import (
    LIST_TYPE,
    material_digest,
    trust_keys_check,
    trust_list_sign,
)
from shared.files import trust
from shared.files.models import ProvincialTrustList
from shared.files.trust import LIST_NAME, trust_list_store


def library_trust_record(*, library: str, material: dict[str, Any]) -> bool:
    """Keep `library`'s material; True when it differs from what the hub held."""
    digest = material_digest(material)
    row = LibraryTrust.objects.select_for_update().filter(library=library).first()
    if row is not None and row.sm3 == digest:
        row.save(update_fields=["received_at"])
        return False
    LibraryTrust.objects.update_or_create(
        library=library,
        defaults={"material": material, "sm3": digest, "changed_at": timezone.now()},
    )
    return True


@transaction.atomic
def apply_trust_keys(payload: dict[str, Any], *, sender: str) -> None:
    """`trust.keys` from a city: its own material only (`federation.not_owner` otherwise), its
    seals only for its own agencies; a duplicate changes nothing."""
    raw = payload.get("material")
    codes = {
        str(entry.get("agency_code") or "")
        for name in ("seals", "sm2_seals")
        for entry in (raw.get(name) or [] if isinstance(raw, dict) else [])
        if isinstance(entry, dict)
    } - {""}
    for agency in Agency.objects.filter(code__in=codes):
        owner = ownership.agency_owner({}, agency)
        if owner != sender:
            raise ownership.NotOwnerError(
                ownership.NOT_OWNER,
                "发送方只能报送本库单位的电子印章证书",
                {"sender": sender, "record": "seal", "key": agency.code, "owner": owner},
            )
    material = trust_keys_check(payload, sender=sender)
    if library_trust_record(library=sender, material=material):
        trust_list_publish()


@transaction.atomic
def trust_list_publish() -> ProvincialTrustList:
    """Build the list from every library's row (the hub's own refreshed first); a new version,
    signed, only when the content changed. Safe to run at any time, from any process."""
    row, _ = ProvincialTrustList.objects.select_for_update().get_or_create(name=LIST_NAME)
    library_trust_record(library=settings.LIBRARY_CODE, material=trust.trust_material())
    libraries = [r.material for r in LibraryTrust.objects.order_by("library")]
    content = sm3_hex(canonical_json(libraries))
    if row.version and row.document.get("content_sm3") == content:
        return row
    now = timezone.now().replace(microsecond=0)
    version = row.version + 1
    document: dict[str, Any] = {
        "type": LIST_TYPE,
        "issuer": settings.LIBRARY_CODE,
        "issuer_name": settings.LIBRARY_NAME,
        "version": version,
        "issued_at": now.isoformat(),
        "next_update": (now + timedelta(seconds=settings.TRUST_LIST_FETCH_SECONDS)).isoformat(),
        "content_sm3": content,
        "libraries": libraries,
    }
    signed = trust_list_sign(document)
    trust_list_store(
        version=version,
        issued_at=now,
        document=document,
        signature=signed["signature"]["token"],
    )
    row.refresh_from_db()
    return row


def trust_list_published() -> dict[str, Any]:
    """The published list as `GET /api/v1/federation/trust-list/` answers it."""
    row = ProvincialTrustList.objects.filter(name=LIST_NAME, version__gt=0).first()
    if row is None or not row.signature:
        row = trust_list_publish()
    header = read_token_header(row.signature)
    return {
        "trust_list": row.document,
        "signature": {"alg": header["alg"], "kid": header["kid"], "token": row.signature},
    }
