"""The active token key and seals as the signing path sees them: kept per process for
`FILES_KEY_CACHE_SECONDS`, so a signing worker does not read two key rows for every file.

Staleness is bounded and harmless where it can happen: a rotation made in another process is
seen within the TTL, and a file sealed meanwhile with the retired seal still verifies (its
certificate stays valid, docs/pki.md); an old token key stays published, so its QR codes
verify too. A revoked seal is different (files signed after `revoked_at` fail verification):
the ready update refuses a file whose seal is revoked (`shared.files.signing`), which
forgets this cache and retries. A rotation or revocation in this process forgets it at once,
and again after its commit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable

from django.conf import settings

from shared.files.models import SigningKey

_lock = threading.Lock()
_keys: dict[Hashable, tuple[float, SigningKey]] = {}


def current_key(name: Hashable, load: Callable[[], SigningKey]) -> SigningKey:
    """`load()`'s key, read again when this process's copy is older than the TTL."""
    now = time.monotonic()
    held = _keys.get(name)
    if held is not None and held[0] > now:
        return held[1]
    key = load()
    ttl = settings.FILES_KEY_CACHE_SECONDS
    if ttl > 0:
        with _lock:
            _keys[name] = (now + ttl, key)
    return key


def forget_current_keys() -> None:
    with _lock:
        _keys.clear()
