"""Key rotation with an overlap, announced over the exchange (issue #14, docs/pki.md
"交换密钥与访问日志签名密钥轮换").

Exchange key, at the sending library (a node, or the hub towards its cities):
1. `exchange_key_rotate` makes a new key (inactive) and writes a `key.announce` event on every
   peer's stream. The relay seals envelopes with the *active* key, so the announcement travels
   signed by the OLD key: that signature is the proof the receiver checks.
2. `exchange_key_activate`, once every receiver acknowledged the announcement, signs with the
   new key. The overlap: both keys verify at the receivers.
3. `exchange_key_retire` writes `key.retire` (signed by the new key, its successor): the
   receiver makes the new key current and refuses the old kid from then on
   (`exchange.key_retired`).

Access-log signing key (`log_key_rotate`, node → hub): the announcement carries a `proof`, a
signature by the old log key over the statement; the node switches keys at once, and the hub
retires the old key when it first witnesses a checkpoint the successor signed (the stream is
ordered, so no older checkpoint can follow).

The receiving side is `shared.federation.key_announcements`. It trusts nothing about who sent
an announcement: the sender is the envelope's
proven sender, the announcement must name it, and its old kid must be the key that sender
holds now (for the exchange key, the very key that signed the envelope).
"""

from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from shared.audit.services import audit_record
from shared.audit.snapshots import model_snapshot
from shared.core.errors import ConflictError
from shared.crypto import suites
from shared.domain.canonical import canonical_json_of_data
from shared.federation.keys import local_key_create, local_key_ensure
from shared.federation.models import KeyRotation, LocalKey, OutboxEvent, Peer, PeerKey
from shared.federation.outbox import outbox_write

ANNOUNCE = "key.announce"
RETIRE = "key.retire"
LOG_ANNOUNCE = "access.key.announce"
SCHEMA = 1

# The kid of the envelope whose events are being applied: set by `ingest_envelope`, read by
# the handlers below (an event handler otherwise knows only the proven sender).
ENVELOPE_KID: ContextVar[str] = ContextVar("envelope_kid", default="")


# --- the statement both sides sign / check --------------------------------------------------


def announcement_statement(payload: dict[str, Any]) -> bytes:
    """The bytes an access-log announcement's `proof` signs (canonical JSON, no proof)."""
    return canonical_json_of_data(
        {
            k: payload.get(k)
            for k in ("purpose", "library_code", "kid", "public_key_pem", "not_before", "old_kid")
        }
    )


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _streams() -> list[str]:
    return list(
        Peer.objects.filter(active=True)
        .exclude(code=settings.LIBRARY_CODE)
        .order_by("code")
        .values_list("code", flat=True)
    )


def _audit(action: str, rotation: KeyRotation, before: dict[str, Any] | None, actor: Any) -> None:
    audit_record(
        actor=actor,
        action=action,
        target_type=f"federation.rotation.{rotation.purpose}",
        target_id=rotation.new_kid,
        before=before,
        after=model_snapshot(rotation),
    )


# --- sender side: exchange key ---------------------------------------------------------------


def _rotation_open(purpose: str) -> KeyRotation | None:
    return (
        KeyRotation.objects.select_for_update()
        .filter(purpose=purpose)
        .exclude(state=KeyRotation.State.RETIRED)
        .first()
    )


@transaction.atomic
def exchange_key_rotate(*, actor: Any = None) -> KeyRotation:
    """Make a new exchange key and announce it on every peer's stream (signed by the old key
    when the relay seals it). One rotation at a time (`federation.rotation_in_progress`)."""
    old = local_key_ensure()  # locks the active key: rotations and signatures queue here
    if _rotation_open(KeyRotation.Purpose.EXCHANGE) is not None:
        raise ConflictError("federation.rotation_in_progress", "已有未完成的交换密钥轮换")
    new = local_key_create(suite_name=old.suite, active=False)
    now = timezone.now().replace(microsecond=0)
    payload = {
        "schema": SCHEMA,
        "purpose": PeerKey.Purpose.EXCHANGE,
        "library_code": settings.LIBRARY_CODE,
        "kid": new.kid,
        "suite": new.suite,
        "public_key_pem": new.public_pem,
        "not_before": _iso(now),
        "old_kid": old.kid,
    }
    streams = _streams()
    for stream in streams:
        outbox_write(stream=stream, kind=ANNOUNCE, key=f"key:{new.kid}", payload=payload)
    rotation = KeyRotation.objects.create(
        purpose=KeyRotation.Purpose.EXCHANGE,
        old_kid=old.kid,
        new_kid=new.kid,
        state=KeyRotation.State.ANNOUNCED,
        streams=streams,
        not_before=now,
    )
    _audit("key.announce", rotation, None, actor)
    return rotation


def _rotation_in(state: str) -> KeyRotation:
    rotation = _rotation_open(KeyRotation.Purpose.EXCHANGE)
    if rotation is None or rotation.state != state:
        raise ConflictError(
            "federation.rotation_state",
            "没有处于该阶段的交换密钥轮换",
            {"expected": state, "state": rotation.state if rotation else None},
        )
    return rotation


@transaction.atomic
def exchange_key_activate(*, actor: Any = None) -> KeyRotation:
    """Sign with the new key, once every receiver acknowledged its announcement (before, an
    envelope the new key signed would be refused as an unknown key)."""
    old = local_key_ensure()
    rotation = _rotation_in(KeyRotation.State.ANNOUNCED)
    events = OutboxEvent.objects.filter(kind=ANNOUNCE, key=f"key:{rotation.new_kid}")
    waiting = sorted(e.stream for e in events if e.state != OutboxEvent.State.ACKNOWLEDGED)
    if waiting:
        raise ConflictError(
            "federation.rotation_unacknowledged",
            "新密钥的公告尚未被全部对端确认，暂不能启用",
            {"streams": waiting},
        )
    before = model_snapshot(rotation)
    LocalKey.objects.filter(pk=old.pk).update(active=False)
    LocalKey.objects.filter(kid=rotation.new_kid).update(active=True)
    rotation.state = KeyRotation.State.ACTIVE
    rotation.save(update_fields=["state", "updated_at"])
    _audit("key.activate", rotation, before, actor)
    return rotation


@transaction.atomic
def exchange_key_retire(*, actor: Any = None) -> KeyRotation:
    """End the overlap: tell every peer (signed by the new key) that the old kid is retired."""
    local_key_ensure()
    rotation = _rotation_in(KeyRotation.State.ACTIVE)
    payload = {
        "schema": SCHEMA,
        "purpose": PeerKey.Purpose.EXCHANGE,
        "library_code": settings.LIBRARY_CODE,
        "kid": rotation.old_kid,
        "successor_kid": rotation.new_kid,
    }
    for stream in rotation.streams:
        outbox_write(stream=stream, kind=RETIRE, key=f"key:{rotation.old_kid}", payload=payload)
    before = model_snapshot(rotation)
    rotation.state = KeyRotation.State.RETIRED
    rotation.save(update_fields=["state", "updated_at"])
    _audit("key.retire", rotation, before, actor)
    return rotation


# --- sender side: access-log key ---------------------------------------------------------------


def log_key_rotate(*, actor: Any = None) -> KeyRotation:
    """Switch this library's access-log signing key and announce the successor to the hub,
    with a proof signed by the old log key. Holds the log head lock while it switches, so
    every checkpoint is signed by the old key before the announcement or the new one after."""
    from shared.access.keys import log_key_replace, log_signing_key
    from shared.access.log.sequence import head_for_update

    suite = suites.get_suite("gm")
    new_private = suite.generate_key()
    new_public = suite.public_key_of(new_private)
    hub = settings.FEDERATION_HUB_CODE
    with transaction.atomic():
        head_for_update()
        old_private = log_signing_key()
        old_kid = suite.key_id(suite.public_key_of(old_private))
        now = timezone.now().replace(microsecond=0)
        payload: dict[str, Any] = {
            "schema": SCHEMA,
            "purpose": PeerKey.Purpose.ACCESS_LOG,
            "library_code": settings.LIBRARY_CODE,
            "kid": suite.key_id(new_public),
            "public_key_pem": suite.public_key_to_pem(new_public).decode(),
            "not_before": _iso(now),
            "old_kid": old_kid,
        }
        payload["proof"] = suite.sign(old_private, announcement_statement(payload)).hex()
        outbox_write(stream=hub, kind=LOG_ANNOUNCE, key=f"key:{payload['kid']}", payload=payload)
        rotation = KeyRotation.objects.create(
            purpose=KeyRotation.Purpose.ACCESS_LOG,
            old_kid=old_kid,
            new_kid=payload["kid"],
            state=KeyRotation.State.RETIRED,
            streams=[hub],
            not_before=now,
        )
        _audit("key.announce", rotation, None, actor)
        # Last, inside the lock: a failure above leaves the old key in place, unannounced
        # successor never used.
        log_key_replace(new_private)
    return rotation
