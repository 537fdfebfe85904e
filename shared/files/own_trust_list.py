"""This library's own signed trust list (`/api/v1/public/trust-list`, `pki trust-list`); see
`shared.crypto.trustlist` for how a verifier reads it. Split from `verification`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from shared.core.tier import library_tier
from shared.crypto.tokens import read_token_header
from shared.domain.canonical import canonical_json, sm3_hex
from shared.files import keystore, trust
from shared.files.models import SigningKey


def trust_list_build() -> dict[str, Any]:
    """The signed trust list (see `shared.crypto.trustlist` for how a verifier reads it)."""
    keystore.token_key_active()
    now = timezone.now().replace(microsecond=0)

    cert_entry = trust.cert_entry

    keys = list(SigningKey.objects.select_related("agency").order_by("kind", "created_at"))
    document = {
        "type": "ElicenseTrustList",
        "library": settings.LIBRARY_CODE,
        "library_name": settings.LIBRARY_NAME,
        "tier": library_tier(),
        "suite": settings.CRYPTO_SUITE,
        "issued_at": now.isoformat(),
        "next_update": (now + timedelta(days=1)).isoformat(),
        "ca": [cert_entry(k) for k in keys if k.kind == SigningKey.Kind.CA],
        "seals": [cert_entry(k) for k in keys if k.kind == SigningKey.Kind.SEAL],
        "tsa": [cert_entry(k) for k in keys if k.kind == SigningKey.Kind.TSA],
        # The SM2 hierarchy of the OFD e-seals (GB/T 38540): trusted through this signed list.
        "sm2_ca": [cert_entry(k) for k in keys if k.kind == SigningKey.Kind.SM2_CA],
        "sm2_seals": [cert_entry(k) for k in keys if k.kind == SigningKey.Kind.SM2_SEAL],
        "token_keys": [
            {
                "kid": k.key_id,
                "alg": "SM2-SM3" if k.suite == "gm" else "ES256",
                "public_key": k.public_key_pem,
                "endorsement": k.endorsement,
                "active": k.active,
            }
            for k in keys
            if k.kind == SigningKey.Kind.TOKEN
        ],
        "status_lists": (
            f"{settings.FILES_PUBLIC_BASE_URL.rstrip('/')}"
            "/api/v1/public/status-lists/{issuer_code}/{purpose}"
        ),
    }
    token = keystore.token_sign(
        {"typ": "trust-list", "sm3": sm3_hex(canonical_json(document)), "iat": int(now.timestamp())}
    )
    header = read_token_header(token)
    return {
        "trust_list": document,
        "signature": {"alg": header["alg"], "kid": header["kid"], "token": token},
    }
