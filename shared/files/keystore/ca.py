"""The library's certificate authorities: the ECDSA CA (PDF seals, TSA, token-key endorsement)
and the SM2 CA (OFD e-seals, GB/T 38540), and the certificates they issue.

The SM2 hierarchy stands beside the ECDSA one because PDF readers need ECDSA and GB/T 38540
needs SM2: one SM2 CA per library, created by `pki init` (the hub's is the provincial one in
development). The SM2 CA is also the seal maker (制章者): it signs the `SESeal` that binds an
agency's name, seal picture and certificate. Verifiers get it from the signed trust list.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from shared.core.errors import PermanentError
from shared.crypto import pki, sm2x509
from shared.crypto.suites import Sm2PrivateKey, get_suite
from shared.files.keystore.keys import private_key, retire, store_ec, store_sm2
from shared.files.models import SigningKey

logger = logging.getLogger(__name__)

CA_DAYS = 3650
SEAL_DAYS = 1825


def ca_active() -> SigningKey | None:
    return SigningKey.objects.filter(kind=SigningKey.Kind.CA, active=True).first()


def ca_create(*, ca_days: int = CA_DAYS) -> SigningKey:
    """A new self-signed ECDSA CA for this library."""
    key = pki.generate_p256()
    name = pki.subject_name(
        common_name=f"河南省电子证照根CA（{settings.LIBRARY_CODE}）",
        organization=settings.LIBRARY_NAME,
        unit="电子证照证书体系",
    )
    issued = pki.ca_create(key=key, name=name, days=ca_days, now=timezone.now())
    return store_ec(kind=SigningKey.Kind.CA, agency=None, key=key, issued=issued, subject=name)


def require_ca() -> SigningKey:
    """The active CA; in development (`FILES_PKI_AUTO_INIT`) the whole PKI is made on first use."""
    ca = ca_active()
    if ca is None:
        if not settings.FILES_PKI_AUTO_INIT:
            raise PermanentError(
                "pki.not_initialised", "尚未初始化证书体系，请先运行 manage.py <tier> pki init"
            )
        logger.warning("pki: no CA yet, creating a development CA (run `pki init` explicitly)")
        # Imported here: `pki_init` makes the token key and the seals, which need this module.
        from shared.files.keystore.bootstrap import pki_init

        pki_init()
        ca = ca_active()
        assert ca is not None
    return ca


def cas() -> list[SigningKey]:
    """Every ECDSA CA this library ever ran, newest first (a seal's chain)."""
    return list(SigningKey.objects.filter(kind=SigningKey.Kind.CA).order_by("-created_at"))


def issue_for(public_key: Any, *, name: Any, kind: str = "seal") -> pki.IssuedCertificate:
    """A certificate from the ECDSA CA for `public_key` (a seal's, or the TSA's)."""
    ca = require_ca()
    return pki.certificate_issue(
        ca_key=private_key(ca),
        ca_cert=pki.certificate_from_pem(ca.certificate_pem),
        public_key=public_key,
        name=name,
        days=SEAL_DAYS,
        now=timezone.now(),
        kind=kind,
    )


@transaction.atomic
def tsa_create() -> tuple[SigningKey, Any]:
    """A TSA certificate for the local RFC 3161 service (tests and development)."""
    name = pki.subject_name(
        common_name=f"{settings.LIBRARY_NAME}时间戳服务",
        organization=settings.LIBRARY_NAME,
        unit="时间戳",
    )
    # RSA: the local TSA answers with pyHanko's DummyTimeStamper, which signs with RSA only.
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    issued = issue_for(key.public_key(), name=name, kind="tsa")
    retire(SigningKey.Kind.TSA, None)
    return (
        store_ec(kind=SigningKey.Kind.TSA, agency=None, key=key, issued=issued, subject=name),
        key,
    )


# --- SM2 ---------------------------------------------------------------------------------


def sm2_ca_active() -> SigningKey | None:
    return SigningKey.objects.filter(kind=SigningKey.Kind.SM2_CA, active=True).first()


def sm2_trust_roots() -> list[bytes]:
    """DER certificates of every SM2 CA this library ever ran (rotated ones included)."""
    return [
        sm2x509.certificate_der_from_pem(k.certificate_pem)
        for k in SigningKey.objects.filter(kind=SigningKey.Kind.SM2_CA)
    ]


def require_sm2_ca() -> SigningKey:
    ca = sm2_ca_active()
    if ca is not None:
        return ca
    if not settings.FILES_PKI_AUTO_INIT:
        raise PermanentError(
            "pki.not_initialised", "尚未初始化 SM2 证书体系，请运行 manage.py <tier> pki init"
        )
    logger.warning("pki: no SM2 CA yet, creating a development one (run `pki init` explicitly)")
    return sm2_ca_create(ca_days=CA_DAYS)


@transaction.atomic
def sm2_ca_create(*, ca_days: int) -> SigningKey:
    """A new SM2 CA; two workers making the first one at once: one wins, the other reads it."""
    key = cast(Sm2PrivateKey, get_suite("gm").generate_key())
    name = sm2x509.sm2_name(
        common_name=f"河南省电子证照SM2根CA（{settings.LIBRARY_CODE}）",
        organization=settings.LIBRARY_NAME,
        unit="电子证照证书体系",
    )
    cert = sm2x509.sm2_ca_create(key=key, name=name, days=ca_days, now=timezone.now())
    try:
        with transaction.atomic():
            return store_sm2(kind=SigningKey.Kind.SM2_CA, agency=None, key=key, cert=cert)
    except IntegrityError:
        existing = sm2_ca_active()
        if existing is None:
            raise
        return existing
