"""Status lists per issuer (W3C Bitstring Status List style): indexes and the signed lists.

Two purposes, as in the W3C spec: `revocation` (revoked, annulled, cancelled: final) and
`suspension` (suspended: reversible). Each licence gets one random index per issuer, used in
both lists and carried in its QR token (`sli`), so an offline verifier fetches the issuer's
whole list (cacheable, the same for everyone) and learns the status without naming the licence.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from django.conf import settings
from django.db import connection
from django.utils import timezone

from shared.accounts.models import Agency
from shared.core.errors import NotFoundError
from shared.crypto import statuslist
from shared.domain.canonical import sm3_hex
from shared.domain.status import Status
from shared.files import keystore
from shared.files.models import StatusListIndex
from shared.licenses.models import License

PURPOSES = {
    "revocation": (Status.revoked.value, Status.annulled.value, Status.cancelled.value),
    "suspension": (Status.suspended.value,),
}
LIST_SIZE = statuslist.MIN_ENTRIES
TTL_SECONDS = 300


def status_index_ensure(*, license: License, fresh: bool = False) -> StatusListIndex:
    """The licence's index, drawn at random on first use; a collision draws again.

    `fresh`: the licence was created in this transaction, so it has no index yet and the draw
    is one INSERT (…ON CONFLICT DO NOTHING: a collision or a concurrent caller returns no row).
    """
    related = License.status_index.related
    if not fresh and related.is_cached(license):  # read with the licence (select_related)
        held = cast(StatusListIndex | None, related.get_cached_value(license))
        if held is not None:
            return held
    existing = None if fresh else StatusListIndex.objects.filter(license=license).first()
    if existing is not None:
        return existing
    table = connection.ops.quote_name(StatusListIndex._meta.db_table)
    sql = (
        f'INSERT INTO {table} ("license_id", "issuer_id", "index") VALUES (%s, %s, %s) '  # noqa: S608
        'ON CONFLICT DO NOTHING RETURNING "id"'
    )
    for _ in range(20):
        index = secrets.randbelow(LIST_SIZE)
        with connection.cursor() as cursor:
            cursor.execute(sql, [license.pk, license.issuer_id, index])
            row = cursor.fetchone()
        if row is not None:
            return StatusListIndex(
                pk=row[0], license_id=license.pk, issuer_id=license.issuer_id, index=index
            )
        existing = StatusListIndex.objects.filter(license=license).first()
        if existing is not None:  # a concurrent caller gave it one
            return existing
    raise RuntimeError("status list is full")  # 131,072 entries per issuer; split lists first


@dataclass(frozen=True, slots=True, kw_only=True)
class SignedStatusList:
    credential: dict[str, Any]
    token: str
    etag: str


def status_list_url(issuer_code: str, purpose: str) -> str:
    base = settings.FILES_PUBLIC_BASE_URL.rstrip("/")
    return f"{base}/api/v1/public/status-lists/{issuer_code}/{purpose}"


def status_list_build(*, issuer_code: str, purpose: str) -> SignedStatusList:
    if purpose not in PURPOSES:
        raise NotFoundError(
            "status_list.purpose", "状态列表用途不存在", {"allowed": list(PURPOSES)}
        )
    issuer = Agency.objects.filter(code=issuer_code, is_issuer=True).first()
    if issuer is None:
        raise NotFoundError("status_list.not_found", "该签发单位没有状态列表")
    indexes = StatusListIndex.objects.filter(
        issuer=issuer, license__status__in=PURPOSES[purpose]
    ).values_list("index", flat=True)
    encoded = statuslist.encode(indexes, size=LIST_SIZE)
    now = timezone.now().replace(microsecond=0)
    credential = {
        "type": "BitstringStatusListCredential",
        "id": status_list_url(issuer.code, purpose),
        "issuer": issuer.code,
        "library": settings.LIBRARY_CODE,
        "statusPurpose": purpose,
        "size": LIST_SIZE,
        "encodedList": encoded,
        "validFrom": now.isoformat(),
        "validUntil": (now + timedelta(seconds=TTL_SECONDS)).isoformat(),
    }
    token = keystore.token_sign(
        {**credential, "iat": int(now.timestamp()), "exp": int(now.timestamp()) + TTL_SECONDS}
    )
    etag = sm3_hex(f"{purpose}:{issuer.code}:{encoded}".encode())[:32]
    return SignedStatusList(credential=credential, token=token, etag=etag)
