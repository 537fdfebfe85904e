"""Province-wide trust, the verifier's side (issue #13, item 1): what this library publishes
about itself, and what it knows of every other library from the provincial trust list.

- `trust_material()`: this library's public trust material (token keys, CA and seal
  certificates, SM2 seals, revocations, where its status lists are). A city sends it up to the
  hub (`trust.keys`); the hub aggregates every library's into one list signed with its
  federation key (`provincial_hub.aggregation.trust`, `shared.federation.trust`).
- `ProvincialTrustList` (one row) is this library's verified copy of that list; verification
  (`shared.files.verification`) looks a token key, a CA or a seal revocation up there when it is
  not one of this library's own. Refreshing it is a hook the tier fills in
  (`trust_refresher_register`): a node fetches from the hub, the hub rebuilds its own.
- Another city's licence status comes from that city's signed status list, fetched and kept for
  its TTL (`StatusListCache`), never guessed: unreachable and not cached → unknown.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests
from cryptography import x509
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from shared.core.tier import library_tier
from shared.crypto import statuslist
from shared.crypto.sm2x509 import certificate_der_from_pem
from shared.crypto.suites import PublicKey, public_key_from_pem
from shared.crypto.tokens import TOKEN_ALGORITHMS, TokenError, verify_token
from shared.files.models import ProvincialTrustList, SigningKey, StatusListCache

logger = logging.getLogger(__name__)

LIST_NAME = "province"


def certificate_sha256(pem: str) -> str:
    """SHA-256 of the certificate's DER (what pyHanko and the OFD verifier report for the
    signer): works for the ECDSA and the SM2 certificates alike."""
    body = "".join(line for line in pem.strip().splitlines() if not line.startswith("-----"))
    return hashlib.sha256(base64.b64decode(body)).hexdigest()


def cert_entry(key: SigningKey) -> dict[str, Any]:
    """One certificate as the trust lists publish it (the library's own and the province's)."""
    return {
        "key_id": key.key_id,
        "agency_code": key.agency.code if key.agency else "",
        "agency_name": key.agency.name if key.agency else settings.LIBRARY_NAME,
        "subject": key.subject,
        "certificate": key.certificate_pem,
        "fingerprint": certificate_sha256(key.certificate_pem),
        "not_before": key.not_before.isoformat() if key.not_before else None,
        "not_after": key.not_after.isoformat() if key.not_after else None,
        "active": key.active,
        "backend": key.backend,
        "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
        "revocation_reason": key.revocation_reason,
    }


def token_key_entry(key: SigningKey) -> dict[str, Any]:
    return {
        "kid": key.key_id,
        "alg": "SM2-SM3" if key.suite == "gm" else "ES256",
        "public_key": key.public_key_pem,
        "endorsement": key.endorsement,
        "active": key.active,
        "not_before": key.not_before.isoformat() if key.not_before else None,
        "not_after": key.not_after.isoformat() if key.not_after else None,
    }


def trust_material() -> dict[str, Any]:
    """This library's public trust material: the same for the same keys (no clock in it), so a
    digest of it says whether anything changed since it was last sent."""
    keys = list(SigningKey.objects.select_related("agency").order_by("kind", "created_at", "id"))
    by_kind: dict[str, list[SigningKey]] = {}
    for key in keys:
        by_kind.setdefault(key.kind, []).append(key)
    kinds = SigningKey.Kind
    return {
        "library": settings.LIBRARY_CODE,
        "library_name": settings.LIBRARY_NAME,
        "tier": library_tier(),
        "status_list_base": settings.FILES_PUBLIC_BASE_URL.rstrip("/"),
        "ca": [cert_entry(k) for k in by_kind.get(kinds.CA, [])],
        "seals": [cert_entry(k) for k in by_kind.get(kinds.SEAL, [])],
        "tsa": [cert_entry(k) for k in by_kind.get(kinds.TSA, [])],
        "sm2_ca": [cert_entry(k) for k in by_kind.get(kinds.SM2_CA, [])],
        "sm2_seals": [cert_entry(k) for k in by_kind.get(kinds.SM2_SEAL, [])],
        "token_keys": [token_key_entry(k) for k in by_kind.get(kinds.TOKEN, [])],
        "revocations": [
            {
                "key_id": k.key_id,
                "kind": k.kind,
                "fingerprint": certificate_sha256(k.certificate_pem),
                "revoked_at": k.revoked_at.isoformat(),
                "reason": k.revocation_reason,
            }
            for k in keys
            if k.revoked_at is not None and k.certificate_pem
        ],
    }


# --- the cached provincial list ---------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Library:
    """One other library as the provincial list describes it, parsed once per list version."""

    code: str
    status_list_base: str
    token_keys: dict[str, PublicKey]  # kid → key
    ca_roots: list[x509.Certificate]
    sm2_roots: list[bytes]


@dataclass(frozen=True, slots=True, kw_only=True)
class Revocation:
    library: str
    key_id: str
    revoked_at: datetime
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Province:
    version: int
    libraries: dict[str, Library]
    revocations: dict[str, Revocation]  # certificate fingerprint → revocation


def trust_list_row() -> ProvincialTrustList | None:
    return ProvincialTrustList.objects.filter(name=LIST_NAME).first()


def province() -> Province:
    """The other libraries of the cached provincial list (empty before the first fetch)."""
    row = (
        ProvincialTrustList.objects.filter(name=LIST_NAME, version__gt=0)
        .values_list("version", "signature")
        .first()
    )
    if row is None:
        return Province(version=0, libraries={}, revocations={})
    return _parsed(row[0], row[1])


@functools.lru_cache(maxsize=4)
def _parsed(version: int, signature: str) -> Province:
    # Keyed by the version and its signature: a new list is parsed once per process.
    row = ProvincialTrustList.objects.get(name=LIST_NAME)
    libraries: dict[str, Library] = {}
    revocations: dict[str, Revocation] = {}
    for entry in row.document.get("libraries", []):
        code = str(entry.get("library", ""))
        try:
            libraries[code] = _library(code, entry)
        except (KeyError, TypeError, ValueError):
            logger.warning("trust_list.entry_unusable library=%s", code, exc_info=True)
            continue
        for item in entry.get("revocations", []):
            try:
                revocations[str(item["fingerprint"])] = Revocation(
                    library=code,
                    key_id=str(item["key_id"]),
                    revoked_at=datetime.fromisoformat(item["revoked_at"]),
                    reason=str(item["reason"]),
                )
            except (KeyError, TypeError, ValueError):
                logger.warning("trust_list.revocation_unusable library=%s", code)
    return Province(version=row.version, libraries=libraries, revocations=revocations)


def _library(code: str, entry: dict[str, Any]) -> Library:
    return Library(
        code=code,
        status_list_base=str(entry.get("status_list_base", "")),
        token_keys={
            str(k["kid"]): public_key_from_pem(str(k["public_key"]).encode())
            for k in entry.get("token_keys", [])
        },
        ca_roots=[
            x509.load_pem_x509_certificate(str(c["certificate"]).encode())
            for c in entry.get("ca", [])
        ],
        sm2_roots=[
            certificate_der_from_pem(str(c["certificate"])) for c in entry.get("sm2_ca", [])
        ],
    )


def foreign_libraries() -> list[Library]:
    """Every library of the provincial list but this one."""
    return [lib for code, lib in province().libraries.items() if code != settings.LIBRARY_CODE]


def foreign_ca_roots() -> list[x509.Certificate]:
    return [cert for lib in foreign_libraries() for cert in lib.ca_roots]


def foreign_sm2_roots() -> list[bytes]:
    return [der for lib in foreign_libraries() for der in lib.sm2_roots]


def keys_with_prefix(lib: Library, alg: str, kid_prefix: str) -> list[PublicKey]:
    del alg  # the verifier refuses a key of another suite itself
    return [key for kid, key in lib.token_keys.items() if kid.startswith(kid_prefix)]


def seal_revocation(fingerprint: str) -> Revocation | None:
    """The revocation of a seal certificate (by the SHA-256 of its DER): this library's own,
    or another's from the provincial list."""
    if not fingerprint:
        return None
    for key in SigningKey.objects.filter(
        kind__in=[SigningKey.Kind.SEAL, SigningKey.Kind.SM2_SEAL], revoked_at__isnull=False
    ):
        if certificate_sha256(key.certificate_pem) == fingerprint.lower():
            assert key.revoked_at is not None  # noqa: S101 - filtered above
            return Revocation(
                library=settings.LIBRARY_CODE,
                key_id=key.key_id,
                revoked_at=key.revoked_at,
                reason=key.revocation_reason,
            )
    return province().revocations.get(fingerprint.lower())


@transaction.atomic
def trust_list_store(
    *, version: int, issued_at: datetime, document: dict[str, Any], signature: str
) -> bool:
    """Keep a verified provincial list; an older version than the one held is ignored (a
    replayed old list must not bring back a revoked seal). True when stored."""
    row, _ = ProvincialTrustList.objects.select_for_update().get_or_create(name=LIST_NAME)
    now = timezone.now()
    if version < row.version:
        row.last_error = f"trust_list.stale: v{version} < v{row.version}"
        row.save(update_fields=["last_error"])
        return False
    row.version = version
    row.issued_at = issued_at
    row.document = document
    row.signature = signature
    row.fetched_at = now
    row.last_error = ""
    row.save()
    return True


def trust_list_failed(error: str) -> None:
    ProvincialTrustList.objects.filter(name=LIST_NAME).update(last_error=error[:500])


# --- refreshing: a hook the tier fills in -----------------------------------------------------

_refresher: Callable[[], Any] | None = None


def trust_refresher_register(refresher: Callable[[], Any]) -> None:
    global _refresher
    _refresher = refresher


def trust_refresh_now() -> bool:
    """Refresh now, without the rate limit (an operator's command); False when no tier
    registered a source. Errors propagate."""
    if _refresher is None:
        return False
    _refresher()
    return True


def trust_refresh_on_demand() -> bool:
    """Refresh the provincial list now (an unknown key id was seen), at most once per
    `TRUST_LIST_REFRESH_MIN_SECONDS` across every process: a stream of forged tokens cannot
    make this library hammer the hub. True when a refresh ran."""
    if _refresher is None:
        return False
    now = timezone.now()
    ProvincialTrustList.objects.get_or_create(name=LIST_NAME)
    limit = now - timedelta(seconds=settings.TRUST_LIST_REFRESH_MIN_SECONDS)
    claimed = ProvincialTrustList.objects.filter(
        Q(last_attempt_at__isnull=True) | Q(last_attempt_at__lt=limit), name=LIST_NAME
    ).update(last_attempt_at=now)
    if not claimed:
        return False
    try:
        _refresher()
    except Exception as exc:  # noqa: BLE001 - a failed refresh is a miss, not a 500
        logger.warning("trust_list.refresh_failed %s", exc)
        trust_list_failed(f"{getattr(exc, 'code', type(exc).__name__)}: {exc}")
        return False
    return True


# --- another library's status lists ---------------------------------------------------------

STATUS_PURPOSES = ("revocation", "suspension")


def foreign_status(*, lib: Library, issuer_code: str, index: int) -> str | None:
    """ "valid", "suspended" or "ended" (revoked, annulled or cancelled) from `lib`'s signed
    status lists for `issuer_code`, or None when a list cannot be had fresh."""
    bits: dict[str, bool] = {}
    for purpose in STATUS_PURPOSES:
        credential = _status_list(lib=lib, issuer_code=issuer_code, purpose=purpose)
        if credential is None:
            return None
        try:
            bits[purpose] = statuslist.is_set(
                statuslist.decode(str(credential["encodedList"])), index
            )
        except (KeyError, TypeError, ValueError, IndexError):
            return None
    if bits["revocation"]:
        return "ended"
    if bits["suspension"]:
        return "suspended"
    return "valid"


def _status_list(*, lib: Library, issuer_code: str, purpose: str) -> dict[str, Any] | None:
    now = timezone.now()
    cached = StatusListCache.objects.filter(
        library=lib.code, issuer_code=issuer_code, purpose=purpose, valid_until__gt=now
    ).first()
    if cached is not None:
        claims = _status_claims(cached.token, lib=lib, issuer_code=issuer_code, purpose=purpose)
        if claims is not None:
            return claims
    url = f"{lib.status_list_base}/api/v1/public/status-lists/{issuer_code}/{purpose}"
    try:
        response = requests.get(url, timeout=settings.TRUST_STATUS_LIST_TIMEOUT)
        token = str(response.json()["token"]) if response.status_code == 200 else ""
    except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
        logger.info("status_list.unreachable %s %s", url, exc)
        return None
    claims = _status_claims(token, lib=lib, issuer_code=issuer_code, purpose=purpose)
    if claims is None:
        logger.warning("status_list.refused %s", url)
        return None
    valid_until = datetime.fromtimestamp(int(claims["exp"]), tz=timezone.get_current_timezone())
    StatusListCache.objects.update_or_create(
        library=lib.code,
        issuer_code=issuer_code,
        purpose=purpose,
        defaults={"token": token, "valid_until": valid_until},
    )
    return claims


def _status_claims(
    token: str, *, lib: Library, issuer_code: str, purpose: str
) -> dict[str, Any] | None:
    """The claims of a status list signed by one of `lib`'s token keys, for this issuer and
    purpose, not expired; None otherwise."""
    if not token:
        return None
    try:
        verified = verify_token(
            token,
            resolve_key=lambda alg, kid: (
                lib.token_keys.get(kid) if alg in TOKEN_ALGORITHMS else None
            ),
            now=timezone.now(),
        )
    except TokenError:
        return None
    claims = verified.claims
    if (
        claims.get("issuer") != issuer_code
        or claims.get("statusPurpose") != purpose
        or claims.get("library") != lib.code
        or not isinstance(claims.get("exp"), int)
    ):
        return None
    return claims
