"""Key rows at rest: the password they are encrypted with, the decrypted-key cache, and storing
and retiring `SigningKey` rows of either suite.

Keys at rest are PBES2-encrypted PKCS#8 with `FILES_KEY_PASSWORD`. Without it (development
only) the password is derived from SECRET_KEY; production refuses to start without its own
FILES_KEY_PASSWORD (shared/conf/production.py), and `make demo` generates one per library
(DEMO_DIR/secrets.json). A key created in an HSM (PKCS#11) never leaves it; only its
certificate is stored here.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from shared.accounts.models import Agency
from shared.audit.services import audit_record
from shared.audit.snapshots import model_snapshot
from shared.core import locks
from shared.core.errors import PermanentError
from shared.crypto import pki, sm2x509
from shared.crypto.suites import get_suite, private_key_from_pem
from shared.files.keystore.current import forget_current_keys
from shared.files.models import SigningKey
from shared.files.signals import trust_material_changed

# Decrypted private keys, one per key and worker process (FIELD-NOTES: parsing a key per
# signature halves the signing rate).
_private_keys: dict[str, Any] = {}


def key_password() -> bytes:
    configured = settings.FILES_KEY_PASSWORD
    if configured:
        return configured.encode()
    # Development fallback: with the public default SECRET_KEY this protects nothing, which is
    # why production and the demo always set FILES_KEY_PASSWORD.
    return (
        hashlib.sha256(f"elicense-files-keys:{settings.SECRET_KEY}".encode()).hexdigest().encode()
    )


def private_key(key: SigningKey) -> Any:
    """The decrypted private key (cached per process). Not for HSM keys."""
    cached = _private_keys.get(key.key_id)
    if cached is not None:
        return cached
    if key.backend != SigningKey.Backend.DATABASE or not key.private_key_pem:
        raise PermanentError("pki.key_not_exportable", "该密钥保存在硬件密码模块中")
    loaded = private_key_from_pem(key.private_key_pem.encode(), key_password())
    _private_keys[key.key_id] = loaded
    return loaded


def forget_private_keys() -> None:
    _private_keys.clear()


def store_ec(
    *,
    kind: str,
    agency: Agency | None,
    key: Any,  # ECDSA (CAs, seals), RSA (the local TSA), None (kept in the HSM)
    issued: pki.IssuedCertificate,
    subject: Any,
    pkcs11_label: str = "",
) -> SigningKey:
    """Store a key (None: it stays in the HSM) with its X.509 certificate from the ECDSA CA."""
    public = issued.certificate.public_key()
    return SigningKey.objects.create(
        kind=kind,
        agency=agency,
        suite="intl",
        key_id=issued.fingerprint[:32],
        subject=subject.rfc4514_string(),
        serial_hex=issued.serial_hex,
        certificate_pem=issued.pem,
        public_key_pem=public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode(),
        private_key_pem=pki.key_to_encrypted_pem(key, key_password()) if key is not None else "",
        backend=SigningKey.Backend.DATABASE if key is not None else SigningKey.Backend.PKCS11,
        pkcs11_label=pkcs11_label,
        not_before=issued.not_before,
        not_after=issued.not_after,
    )


def store_sm2(
    *, kind: str, agency: Agency | None, key: Any, cert: sm2x509.Sm2Certificate, seal: bytes = b""
) -> SigningKey:
    """Store an SM2 key with its certificate and, for a seal, the `SESeal` the SM2 CA made."""
    gm = get_suite("gm")
    return SigningKey.objects.create(
        kind=kind,
        agency=agency,
        suite="gm",
        key_id=cert.fingerprint[:32],
        subject=cert.subject,
        serial_hex=cert.serial_hex,
        certificate_pem=cert.pem,
        public_key_pem=gm.public_key_to_pem(cert.public_key).decode(),
        private_key_pem=gm.private_key_to_pem(key, key_password()).decode(),
        endorsement=base64.b64encode(seal).decode("ascii") if seal else "",
        not_before=cert.not_before,
        not_after=cert.not_after,
    )


def key_snapshot(key: SigningKey) -> dict[str, Any]:
    """A key row for the audit: no private key, and its id rather than its long PEM texts."""
    snap = model_snapshot(
        key, exclude=("certificate_pem", "public_key_pem", "endorsement", "created_at")
    )
    return snap | {"agency_code": key.agency.code if key.agency else ""}


# Held while a key is made or rotated: two processes making the first CA, or two rotations at
# once, would each find no active key (or the same one) and make one each.
KEYSTORE_LOCK = "files.keystore"


def retire(kind: str, agency: Agency | None) -> list[dict[str, Any]]:
    """Retire the active keys of `kind` for `agency`; their snapshots as they were."""
    locks.transaction_lock(KEYSTORE_LOCK)
    active = SigningKey.objects.select_for_update().filter(kind=kind, agency=agency, active=True)
    retired = [key_snapshot(key) for key in active]
    active.update(active=False, retired_at=timezone.now())
    # This process signs with the successor at once; again after commit, in case a signing
    # thread read the retiring key meanwhile.
    forget_current_keys()
    transaction.on_commit(forget_current_keys)
    return retired


def key_audit(
    *, retired: list[dict[str, Any]], key: SigningKey, actor: Any = None, reason: str = ""
) -> None:
    """One audit row for a key made by a rotation ("key.rotate") or for a first one
    ("key.create"), in the rotation's transaction. `actor` is the administrator who rotated
    it from the console (None: a command, or a key made on first use), `reason` theirs."""
    detail: dict[str, Any] = {"kind": key.kind, "retired": [r["key_id"] for r in retired]}
    if reason:
        detail["reason"] = reason
    audit_record(
        actor=actor,
        action="key.rotate" if retired else "key.create",
        target_type="signing_key",
        target_id=key.key_id,
        before=retired[0] if retired else None,
        after=key_snapshot(key),
        detail=detail,
    )
    trust_material_changed.send(sender=SigningKey)
