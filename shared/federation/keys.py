"""This library's exchange key and the registry of its peers' keys."""

import functools
from typing import Any

from django.conf import settings
from django.db import transaction

from shared.audit.services import audit_record
from shared.audit.snapshots import model_snapshot
from shared.core.errors import NotFoundError
from shared.crypto import suites
from shared.federation.models import LocalKey, Peer


def _password() -> bytes:
    # Defaults to SECRET_KEY in development; production requires a password of its own and the
    # demo generates one per library (docs/pki.md, "How keys are protected").
    return settings.FEDERATION_KEY_PASSWORD.encode()


@transaction.atomic
def local_key_ensure() -> LocalKey:
    """The active signing key, created on first use (`federation keygen` does it explicitly)."""
    key = LocalKey.objects.select_for_update().filter(active=True).first()
    if key is None:
        # A rotation (`federation activate-key`) may have switched the active key while this
        # waited for the old one's lock: PostgreSQL then skips the old row, and a second
        # statement (a fresh snapshot) finds the new one instead of making a third key.
        key = LocalKey.objects.select_for_update().filter(active=True).first()
    if key is not None:
        return key
    key = local_key_create(suite_name=getattr(settings, "CRYPTO_SUITE", "gm"), active=True)
    audit_record(
        actor=None,
        action="key.create",
        target_type="federation.key",
        target_id=key.kid,
        before=None,
        after=model_snapshot(key, exclude=("public_pem",)),
    )
    return key


def local_key_create(*, suite_name: str, active: bool) -> LocalKey:
    """A new exchange key of this library (inactive: a rotation's successor, not yet used)."""
    suite = suites.get_suite(suite_name)
    private = suite.generate_key()
    public = suite.public_key_of(private)
    return LocalKey.objects.create(
        kid=suite.key_id(public),
        suite=suite.name,
        private_pem=suite.private_key_to_pem(private, _password()).decode(),
        public_pem=suite.public_key_to_pem(public).decode(),
        active=active,
    )


@functools.lru_cache(maxsize=4)
def _parsed_private(kid: str, pem: str) -> suites.PrivateKey:
    # Parsing an encrypted PKCS#8 key costs a key derivation: do it once per process and key.
    return suites.private_key_from_pem(pem.encode(), _password())


def signing_key() -> tuple[str, suites.PrivateKey]:
    """The active key, read without a lock: an activation commits both flags at once, so a
    plain read sees the old active key or the new one; only the very first use creates one."""
    key = LocalKey.objects.filter(active=True).first() or local_key_ensure()
    return key.kid, _parsed_private(key.kid, key.private_pem)


def export_public() -> dict[str, str]:
    key = local_key_ensure()
    return {
        "code": settings.LIBRARY_CODE,
        "name": settings.LIBRARY_NAME,
        "kid": key.kid,
        "suite": key.suite,
        "public_key_pem": key.public_pem,
    }


def _peer_snapshot(peer: Peer | None) -> dict[str, Any] | None:
    # The public key is public, but long: its `kid` says which one it is.
    return (
        model_snapshot(peer, exclude=("public_pem", "created_at", "updated_at"))
        if peer is not None
        else None
    )


@transaction.atomic
def peer_register(
    *,
    code: str,
    kid: str,
    public_key_pem: str,
    base_url: str = "",
    name: str = "",
    adapter: str = "",
    actor: Any = None,
) -> Peer:
    """Register a peer library's exchange key (or replace it: a peer's key rotation); one
    audit row, "peer.add" or "peer.update"."""
    suites.public_key_from_pem(public_key_pem.encode())  # refuse what does not parse
    before = _peer_snapshot(Peer.objects.select_for_update().filter(code=code).first())
    peer, _ = Peer.objects.update_or_create(
        code=code,
        defaults={
            "kid": kid,
            "public_pem": public_key_pem,
            "base_url": base_url,
            "name": name,
            "adapter": adapter,
            "active": True,
        },
    )
    audit_record(
        actor=actor,
        action="peer.add" if before is None else "peer.update",
        target_type="federation.peer",
        target_id=peer.code,
        before=before,
        after=_peer_snapshot(peer),
    )
    return peer


@functools.lru_cache(maxsize=64)
def _parsed_public(pem: str) -> suites.PublicKey:
    return suites.public_key_from_pem(pem.encode())


def peer_public_key(sender: str, kid: str) -> suites.PublicKey | None:
    # The sender is not yet authenticated here: a name no library has (a NUL, a lone
    # surrogate the database cannot even encode) is simply unknown.
    if not (isinstance(sender, str) and len(sender) == 6 and sender.isascii() and sender.isdigit()):
        return None
    peer = Peer.objects.filter(code=sender, active=True).first()
    if peer is None:
        return None
    if peer.kid == kid:
        return _parsed_public(peer.public_pem)
    # Another kid: an announced successor (the overlap of a rotation), or a retired key,
    # refused with its own code (shared.federation.rotation).
    from shared.federation.key_announcements import peer_key_lookup

    pem = peer_key_lookup(sender, kid)
    return _parsed_public(pem) if pem else None


def peer_get(code: str) -> Peer:
    peer = Peer.objects.filter(code=code, active=True).first()
    if peer is None:
        raise NotFoundError("federation.peer_unknown", "交换对端未登记", {"code": code})
    return peer
