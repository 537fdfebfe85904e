"""Seals: one family, two suites. Each issuing agency (and the library itself, `agency=None`)
has one active seal per suite, created on first use and rotated alike:

- ECDSA (P-256, X.509 from the ECDSA CA): signs PDFs, which readers verify;
- SM2 (X.509 from the SM2 CA, plus the `SESeal` the SM2 CA makes, GB/T 38540): signs OFDs.

Signers are expensive to rebuild and cached per key and worker process; a rotation in this
process resets the caches (`reset_caches`) whichever suite it rotates.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from shared.accounts.models import Agency
from shared.audit.services import audit_record
from shared.core.errors import ConflictError, NotFoundError, PermanentError
from shared.crypto import pki, ses, sm2x509
from shared.crypto.ofd import OfdSigner
from shared.crypto.pdfsign import CachedKeySigner, SealSigner
from shared.crypto.suites import Sm2PrivateKey, get_suite
from shared.crypto.tsa import timestamper_for
from shared.files.keystore import hsm
from shared.files.keystore.ca import SEAL_DAYS, cas, issue_for, require_sm2_ca
from shared.files.keystore.current import current_key, forget_current_keys
from shared.files.keystore.fonts import font_path
from shared.files.keystore.keys import (
    forget_private_keys,
    key_audit,
    key_snapshot,
    private_key,
    retire,
    store_ec,
    store_sm2,
)
from shared.files.models import SigningKey
from shared.files.seal_image import seal_png
from shared.files.signals import trust_material_changed

SEAL_CAPTION = "电子证照专用章"
OFD_SEAL_MM = 42  # the printed size of the e-seal picture, as on the PDF

_lock = threading.Lock()
_signers: dict[str, SealSigner] = {}


@dataclass(frozen=True, slots=True)
class SealSuite:
    """One suite of the seal family: the kind of its key rows, and how a new seal is made.
    `prepare(agency)` makes the key and certificate and returns the step that stores them."""

    kind: str
    prepare: Callable[[Agency | None], Callable[[], SigningKey]]


def _prepare_ecdsa(agency: Agency | None) -> Callable[[], SigningKey]:
    name = _x509_name(agency)
    key = pki.generate_p256()
    issued = issue_for(key.public_key(), name=name)
    return lambda: store_ec(
        kind=SigningKey.Kind.SEAL, agency=agency, key=key, issued=issued, subject=name
    )


def _prepare_sm2(agency: Agency | None) -> Callable[[], SigningKey]:
    ca = require_sm2_ca()
    ca_key = private_key(ca)
    ca_der = sm2x509.certificate_der_from_pem(ca.certificate_pem)
    seal_name = agency.name if agency else settings.LIBRARY_NAME
    name = sm2x509.sm2_name(
        common_name=seal_name,
        organization=seal_name,
        serial_number=agency.code if agency else settings.LIBRARY_CODE,
        unit="" if agency else "电子证照库",
    )
    key = cast(Sm2PrivateKey, get_suite("gm").generate_key())
    now = timezone.now()
    cert = sm2x509.sm2_certificate_issue(
        ca_key=ca_key, ca_der=ca_der, public_key=key.public, name=name, days=SEAL_DAYS, now=now
    )
    seal = ses.seal_make(
        ses.SealSpec(
            es_id=f"{agency.code if agency else settings.LIBRARY_CODE}-{cert.serial_hex[:16]}",
            name=f"{seal_name}{SEAL_CAPTION}",
            signer_certificates=[cert.der],
            picture_png=seal_png(seal_name, SEAL_CAPTION, font_path()),
            width_mm=OFD_SEAL_MM,
            height_mm=OFD_SEAL_MM,
            valid_start=cert.not_before,
            valid_end=cert.not_after,
            created=now,
        ),
        maker_key=ca_key,
        maker_cert=ca_der,
    )
    return lambda: store_sm2(
        kind=SigningKey.Kind.SM2_SEAL, agency=agency, key=key, cert=cert, seal=seal
    )


ECDSA = SealSuite(kind=SigningKey.Kind.SEAL, prepare=_prepare_ecdsa)
SM2 = SealSuite(kind=SigningKey.Kind.SM2_SEAL, prepare=_prepare_sm2)


def _x509_name(agency: Agency | None) -> Any:
    if agency is None:
        return pki.subject_name(
            common_name=settings.LIBRARY_NAME,
            organization=settings.LIBRARY_NAME,
            serial_number=settings.LIBRARY_CODE,
            unit="电子证照库",
        )
    return pki.subject_name(
        common_name=agency.name, organization=agency.name, serial_number=agency.code
    )


# --- the family: active, create, rotate ------------------------------------------------------


def seal_active(suite: SealSuite, agency: Agency | None) -> SigningKey | None:
    return SigningKey.objects.filter(kind=suite.kind, agency=agency, active=True).first()


def seal_get_or_create(suite: SealSuite, agency: Agency | None) -> SigningKey:
    """The active seal of `agency` (None: the library's own) in `suite`, created on first use."""
    key = seal_active(suite, agency)
    return key if key is not None else seal_make(suite, agency)


@transaction.atomic
def seal_make(suite: SealSuite, agency: Agency | None) -> SigningKey:
    """A new seal of `suite` for `agency`, chained to the suite's CA.

    Two workers creating the first seal of an agency at once: the partial unique constraint lets
    one win; the other reads the winner's key.
    """
    store = suite.prepare(agency)
    try:
        with transaction.atomic():
            return store()
    except IntegrityError:
        existing = seal_active(suite, agency)
        if existing is None:
            raise
        return existing


@transaction.atomic
def seal_rotate_suite(
    suite: SealSuite, agency: Agency | None, *, actor: Any = None, reason: str = ""
) -> SigningKey:
    """Retire the active seal and make a new one. Files sealed with the old one still verify:
    its certificate stays valid and chains to the CA in the trust list (docs/pki.md)."""
    retired = retire(suite.kind, agency)
    new = seal_make(suite, agency)
    key_audit(retired=retired, key=new, actor=actor, reason=reason)
    transaction.on_commit(reset_caches)
    return new


def seal_for(*, agency: Agency | None) -> SigningKey:
    return seal_get_or_create(ECDSA, agency)


def seal_current(*, agency: Agency | None) -> SigningKey:
    """The active ECDSA seal for sealing a file, as this process read it at most
    `FILES_KEY_CACHE_SECONDS` ago (`keystore.current`: a revoked one is caught at the ready
    update)."""
    return current_key(("seal", agency.pk if agency else None), lambda: seal_for(agency=agency))


def seal_create(*, agency: Agency | None) -> SigningKey:
    return seal_make(ECDSA, agency)


def seal_rotate(*, agency: Agency | None, actor: Any = None, reason: str = "") -> SigningKey:
    return seal_rotate_suite(ECDSA, agency, actor=actor, reason=reason)


def sm2_seal_for(*, agency: Agency | None) -> SigningKey:
    return seal_get_or_create(SM2, agency)


def sm2_seal_create(*, agency: Agency | None) -> SigningKey:
    return seal_make(SM2, agency)


def sm2_seal_rotate(*, agency: Agency | None, actor: Any = None, reason: str = "") -> SigningKey:
    return seal_rotate_suite(SM2, agency, actor=actor, reason=reason)


@transaction.atomic
def seal_create_pkcs11(*, agency: Agency | None, label: str) -> SigningKey:
    """An ECDSA seal whose P-256 key is generated inside the HSM; only the certificate is
    stored. It replaces the active one, as a rotation does."""
    public_key = hsm.pkcs11_generate_p256(label)
    retired = retire(ECDSA.kind, agency)
    name = _x509_name(agency)
    issued = issue_for(public_key, name=name)
    key = store_ec(
        kind=ECDSA.kind, agency=agency, key=None, issued=issued, subject=name, pkcs11_label=label
    )
    key_audit(retired=retired, key=key)
    transaction.on_commit(reset_caches)
    return key


@transaction.atomic
def seal_revoke(
    *, key_id: str, reason: str, revoked_at: datetime | None = None, actor: Any = None
) -> SigningKey:
    """Revoke a seal certificate (ECDSA or SM2) of this library: files signed at or after
    `revoked_at` (default now; earlier when the key was compromised before it was noticed) fail
    verification with `reason`; files signed before still verify. An active seal is retired,
    so the next file is sealed with a new one. One audit row ("key.revoke"); revoking again
    with the same time and reason changes nothing, with another is a conflict."""
    reason = (reason or "").strip()
    if not reason or len(reason) > 200:
        raise PermanentError("pki.revoke_reason", "请填写吊销原因（不超过 200 字）")
    when = revoked_at or timezone.now()
    if when.utcoffset() is None:
        raise PermanentError("pki.revoke_time", "吊销时间须带时区")
    key = (
        SigningKey.objects.select_for_update(of=("self",))
        .select_related("agency")
        .filter(key_id=key_id, kind__in=[SigningKey.Kind.SEAL, SigningKey.Kind.SM2_SEAL])
        .first()
    )
    if key is None:
        raise NotFoundError("pki.seal_not_found", "本库没有该电子印章证书", {"key_id": key_id})
    if key.revoked_at is not None:
        if key.revoked_at == when and key.revocation_reason == reason:
            return key
        raise ConflictError(
            "pki.already_revoked",
            "该电子印章证书已吊销",
            {"revoked_at": key.revoked_at.isoformat(), "reason": key.revocation_reason},
        )
    before = key_snapshot(key)
    key.revoked_at = when
    key.revocation_reason = reason
    fields = ["revoked_at", "revocation_reason"]
    if key.active:
        key.active = False
        key.retired_at = timezone.now()
        fields += ["active", "retired_at"]
    key.save(update_fields=fields)
    forget_current_keys()  # this process seals with a successor at once (others: the ready check)
    audit_record(
        actor=actor,
        action="key.revoke",
        target_type="signing_key",
        target_id=key.key_id,
        before=before,
        after=key_snapshot(key),
        detail={"kind": key.kind, "reason": reason, "revoked_at": key.revoked_at.isoformat()},
    )
    trust_material_changed.send(sender=SigningKey)
    transaction.on_commit(reset_caches)
    return key


# --- signers ---------------------------------------------------------------------------------


def seal_signer(key: SigningKey) -> SealSigner:
    """A reusable pyHanko signer for an ECDSA seal key, one per key and worker process."""
    signer = _signers.get(key.key_id)
    if signer is not None:
        return signer
    with _lock:
        signer = _signers.get(key.key_id)
        if signer is None:
            signer = _build_signer(key)
            _signers[key.key_id] = signer
    return signer


def _build_signer(key: SigningKey) -> SealSigner:
    cert = pki.certificate_from_pem(key.certificate_pem)
    chain = [pki.certificate_from_pem(ca.certificate_pem) for ca in cas()]
    engine: Any
    if key.backend == SigningKey.Backend.PKCS11:
        engine = hsm.pkcs11_signer(label=key.pkcs11_label, cert=cert, chain=chain)
    else:
        engine = CachedKeySigner(key=private_key(key), cert=cert, chain=chain)
    name = key.agency.name if key.agency else settings.LIBRARY_NAME
    return SealSigner(
        signer=engine,
        seal_png=seal_png(name, SEAL_CAPTION, font_path()),
        name=name,
        timestamper=timestamper_for(settings.FILES_TSA_URL),
    )


def ofd_signer(key: SigningKey) -> OfdSigner:
    """The OFD signer for an SM2 seal key: its key, certificate and `SESeal`."""
    return OfdSigner(
        key=private_key(key),
        certificate=sm2x509.certificate_der_from_pem(key.certificate_pem),
        seal=base64.b64decode(key.endorsement),
        provider=settings.LIBRARY_NAME,
    )


def reset_caches() -> None:
    """Forget cached keys (the active ones too), signers and the PKCS#11 session (after a
    rotation in this process, and in tests)."""
    from shared.files import verify_cache  # the public verify path's keys and codes too

    _signers.clear()
    forget_current_keys()
    forget_private_keys()
    hsm.pkcs11_forget()
    verify_cache.clear()
