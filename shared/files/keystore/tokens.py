"""The token key: signs QR tokens and the trust list, endorsed by the CA; rotated ones stay
published so printed QR codes keep verifying until they expire."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from shared.core import locks
from shared.core.errors import ConflictError
from shared.crypto.suites import PublicKey, get_suite, public_key_from_pem
from shared.crypto.tokens import TOKEN_ALGORITHMS, sign_token
from shared.files.keystore.ca import CA_DAYS, require_ca
from shared.files.keystore.current import current_key
from shared.files.keystore.keys import (
    KEYSTORE_LOCK,
    key_audit,
    key_password,
    private_key,
    retire,
)
from shared.files.models import SigningKey


def token_key_active() -> SigningKey:
    """The active token key of the configured suite, created on first use."""
    suite = settings.CRYPTO_SUITE
    key = SigningKey.objects.filter(kind=SigningKey.Kind.TOKEN, active=True).first()
    if key is not None and key.suite == suite:
        return key
    with transaction.atomic():
        locks.transaction_lock(KEYSTORE_LOCK)
        require_ca()  # in development the first use makes the whole PKI, a token key with it
        # …or another process made it while this one waited for the lock.
        key = SigningKey.objects.filter(kind=SigningKey.Kind.TOKEN, active=True).first()
        if key is not None and key.suite == suite:
            return key
        return token_key_rotate()


def token_key_current() -> SigningKey:
    """The active token key for signing QR tokens, as this process read it at most
    `FILES_KEY_CACHE_SECONDS` ago (a just-rotated key's tokens still verify)."""
    return current_key(("token", settings.CRYPTO_SUITE), token_key_active)


def token_public_key(alg: str, kid: str) -> PublicKey | None:
    """For `verify_token`: any token key this library ever used (rotated ones included)."""
    suite_name = TOKEN_ALGORITHMS.get(alg)
    key = SigningKey.objects.filter(kind=SigningKey.Kind.TOKEN, key_id=kid).first()
    if key is None or key.suite != suite_name:
        return None
    return public_key_from_pem(key.public_key_pem.encode())


def token_sign(claims: dict[str, Any]) -> str:
    key = token_key_active()
    return sign_token(
        suite=get_suite(key.suite), key=private_key(key), kid=key.key_id, claims=claims
    )


@transaction.atomic
def token_key_rotate(*, actor: Any = None, reason: str = "") -> SigningKey:
    """A new token key in the configured suite, endorsed by the CA; the old one stays published
    in the trust list, so printed QR codes keep verifying until they expire."""
    suite = get_suite(settings.CRYPTO_SUITE)
    ca = require_ca()
    key = suite.generate_key()
    public = suite.public_key_of(key)
    kid = suite.key_id(public)
    public_pem = suite.public_key_to_pem(public).decode()
    endorsement = sign_token(
        suite=get_suite("intl"),
        key=private_key(ca),
        kid=ca.key_id,
        claims={
            "typ": "token-key",
            "lib": settings.LIBRARY_CODE,
            "kid": kid,
            "alg": suite.token_alg,
            "pub": public_pem,
            "iat": int(timezone.now().timestamp()),
        },
    )
    retired = retire(SigningKey.Kind.TOKEN, None)
    if SigningKey.objects.filter(key_id=kid).exists():  # astronomically unlikely
        raise ConflictError("pki.key_exists", "密钥标识冲突，请重试")
    created = SigningKey.objects.create(
        kind=SigningKey.Kind.TOKEN,
        agency=None,
        suite=suite.name,
        key_id=kid,
        subject=f"{settings.LIBRARY_NAME} 二维码与信任列表签名密钥",
        public_key_pem=public_pem,
        private_key_pem=suite.private_key_to_pem(key, key_password()).decode(),
        endorsement=endorsement,
        not_before=timezone.now(),
        not_after=timezone.now() + timedelta(days=CA_DAYS),
    )
    key_audit(retired=retired, key=created, actor=actor, reason=reason)
    return created
