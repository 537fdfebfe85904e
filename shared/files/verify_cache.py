"""What a QR scan needs, kept in each web process (issue #16 item 7: verify at speed).

A public scan used to cost two ORM queries (the token keys by key-id prefix, the version with its
licence, type and issuer) and a PEM parse: three times the CPU of the SM2 check itself, and two
database round trips, which on a busy host wait for the database's turn on a core. Now a scan of
a code seen in the last minute touches no database at all:

- Token public keys, parsed, by (algorithm, key-id prefix), for `KEY_SECONDS`. A key row never
  changes and a rotated key stays published (printed codes keep verifying), so the set behind a
  prefix only grows; a prefix that finds nothing is not remembered, so a key made by a rotation
  in another process verifies at once.
- Tokens this library's keys verified, for `KEY_SECONDS` (at most `TOKEN_ENTRIES`): a printed
  code is scanned again and again, and the same bytes under the same key verify the same way,
  so the SM2 check (about half of a scan's CPU) runs once per code and process. The expiry is
  checked on every scan; only successes are remembered.
- A licence version with its licence, type and issuer, for `VERSION_SECONDS` after its last
  scan (at most `VERSION_ENTRIES` of them). A version's fields never change (a change makes a
  new version); the names of a type or an issuer may be edited and show within that time.
- What does change — each remembered licence's status, current version and current identifier —
  is read again for all of them in one query when it is older than `VERIFY_STATUS_SECONDS`
  (setting, default 2): a revocation, suspension or new version shows within that bound in every
  process, whatever wrote it (a service, the hub's bulk ingest, a repair). The process that made
  the change forgets the licence at once. The cost grows with the codes scanned in the last
  minute, not with the library. 0 reads the version and its licence on every scan.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import connection

from shared.crypto.suites import PublicKey
from shared.crypto.tokens import TokenError, VerifiedToken
from shared.licenses.models import License, LicenseVersion

KEY_SECONDS = 300.0
VERSION_SECONDS = 60.0
VERSION_ENTRIES = 20_000  # a few MB per process
TOKEN_ENTRIES = 20_000

_lock = threading.Lock()
_keys: dict[tuple[str, str], tuple[float, list[PublicKey]]] = {}


@dataclass(slots=True)
class _Entry:
    version: LicenseVersion  # with .license, .license.license_type, .license.issuer
    used: float  # monotonic time of the last scan
    # The copy handed out for one state of its licence, and that state (one tuple: threads
    # replace it whole). Callers only read it, so every scan in that state shares it.
    shown: tuple[tuple[str, int, str], LicenseVersion] | None = None


_versions: dict[str, _Entry] = {}
_tokens: dict[str, tuple[float, VerifiedToken]] = {}
# licence id -> (status, current version, current identifier), all read at `_state_at`
_state: dict[int, tuple[str, int, str]] = {}
_state_at = 0.0


def token_keys(
    alg: str, kid_prefix: str, *, load: Callable[[str, str], list[PublicKey]]
) -> list[PublicKey]:
    """The parsed token keys behind a QR token's key-id prefix; `load` reads them from the
    database when they are not here (or are older than `KEY_SECONDS`)."""
    now = time.monotonic()
    hit = _keys.get((alg, kid_prefix))
    if hit is not None and hit[0] > now:
        return hit[1]
    keys = load(alg, kid_prefix)
    if keys:
        with _lock:
            if len(_keys) >= 1000:  # only forged prefixes could fill it: start again
                _keys.clear()
            _keys[(alg, kid_prefix)] = (now + KEY_SECONDS, keys)
    return keys


def token_verified(token: str, *, now: float, verify: Callable[[], VerifiedToken]) -> VerifiedToken:
    """`verify()` (this library's keys, no expiry check), or what it answered for the same
    token within `KEY_SECONDS`; raises `TokenError` ("token.expired" too, checked against
    `now`, unix seconds, on every call)."""
    clock = time.monotonic()
    hit = _tokens.get(token)
    if hit is not None and hit[0] > clock:
        verified = hit[1]
    else:
        verified = verify()
        with _lock:
            _tokens.pop(token, None)
            while len(_tokens) >= TOKEN_ENTRIES:
                _tokens.pop(next(iter(_tokens)))
            _tokens[token] = (clock + KEY_SECONDS, verified)
    if now >= verified.claims["exp"]:
        raise TokenError("token.expired")
    return VerifiedToken(kid=verified.kid, alg=verified.alg, claims=dict(verified.claims))


_STATE_SQL = "SELECT id, status, version, identifier FROM {table} WHERE id = ANY(%s)"  # noqa: S608


def version_current(
    identifier: str, *, load: Callable[[str], LicenseVersion | None]
) -> LicenseVersion | None:
    """The version called `identifier` with its licence's state no older than
    `VERIFY_STATUS_SECONDS`, or None when the library does not hold it. The object is shared
    by every scan (and thread) that sees the same state: read it, never change it. `load`
    fetches the version with its licence, type and issuer (and the licence's state, read now)."""
    max_age = float(settings.VERIFY_STATUS_SECONDS)
    if max_age <= 0:
        return load(identifier)
    now = time.monotonic()
    _state_refresh(now, max_age)
    entry = _versions.get(identifier)
    state = _state.get(entry.version.license_id) if entry is not None else None
    if entry is None or state is None or entry.used + VERSION_SECONDS < now:
        loaded = load(identifier)
        if loaded is None:  # not remembered: a licence that arrives later is found at once
            return None
        lic = loaded.license
        # decrypted (SM4) once, not on every scan; key_fields reads it from here
        loaded.__dict__["holder_code_masked"] = holder_code_mask(loaded.holder_code)
        state = (lic.status, lic.version, lic.identifier)
        entry = _Entry(version=loaded, used=now)
        with _lock:
            _remember(identifier, entry)
            _state[lic.pk] = state
    else:
        entry.used = now
    shown = entry.shown
    if shown is not None and shown[0] == state:
        return shown[1]
    lic = copy.copy(entry.version.license)
    lic.status, lic.version, lic.identifier = state
    fresh = copy.copy(entry.version)
    fresh.license = lic
    entry.shown = (state, fresh)
    return fresh


def _state_refresh(now: float, max_age: float) -> None:
    """Read the state of every remembered licence again when it is older than `max_age`;
    forget the versions not scanned for `VERSION_SECONDS` first (and a licence that is gone)."""
    global _state_at
    if now - _state_at <= max_age:
        return
    with _lock:
        if now - _state_at <= max_age:
            return  # another thread did it while this one waited
        for identifier in [i for i, e in _versions.items() if e.used + VERSION_SECONDS < now]:
            del _versions[identifier]
        ids = list({e.version.license_id for e in _versions.values()})
        rows = []
        if ids:
            with connection.cursor() as cursor:
                table = connection.ops.quote_name(License._meta.db_table)
                cursor.execute(_STATE_SQL.format(table=table), [ids])
                rows = cursor.fetchall()
        _state.clear()
        _state.update({pk: (status, version, ident) for pk, status, version, ident in rows})
        _state_at = now


def _remember(identifier: str, entry: _Entry) -> None:
    """Under `_lock`."""
    _versions.pop(identifier, None)
    while len(_versions) >= VERSION_ENTRIES:  # the least recently added first (dicts keep order)
        _versions.pop(next(iter(_versions)))
    _versions[identifier] = entry


def holder_code_mask(code: str) -> str:
    """The holder code as a verifier shows it: it is personal, so the middle is hidden."""
    return code[:4] + "*" * max(0, len(code) - 8) + code[-4:] if len(code) > 8 else "****"


def forget(license_id: int) -> None:
    """This process changed the licence: its next scan reads it again."""
    with _lock:
        _state.pop(license_id, None)


def clear() -> None:
    """Forget everything (tests)."""
    global _state_at
    with _lock:
        _keys.clear()
        _tokens.clear()
        _versions.clear()
        _state.clear()
        _state_at = 0.0
