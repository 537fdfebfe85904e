"""`pki init`: the library's CAs, token key and own seal, made once."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from shared.core import locks
from shared.files.keystore.ca import CA_DAYS, ca_active, ca_create, sm2_ca_active, sm2_ca_create
from shared.files.keystore.keys import KEYSTORE_LOCK
from shared.files.keystore.seals import seal_for
from shared.files.keystore.tokens import token_key_rotate
from shared.files.models import SigningKey


@transaction.atomic
def pki_init(*, ca_days: int = CA_DAYS) -> dict[str, SigningKey]:
    """Create this library's CA, token key and own seal if missing. Safe to run twice.

    In development each library runs its own CA (the hub's is the provincial CA); production
    replaces it by importing the provincial CA's certificates (docs/pki.md).
    """
    # Two processes of a development library may both make the PKI on first use: one waits.
    locks.transaction_lock(KEYSTORE_LOCK)
    ca = ca_active() or ca_create(ca_days=ca_days)
    token = SigningKey.objects.filter(kind=SigningKey.Kind.TOKEN, active=True).first()
    if token is None or token.suite != settings.CRYPTO_SUITE:
        token = token_key_rotate()
    sm2_ca = sm2_ca_active() or sm2_ca_create(ca_days=ca_days)
    return {"ca": ca, "token": token, "seal": seal_for(agency=None), "sm2_ca": sm2_ca}
