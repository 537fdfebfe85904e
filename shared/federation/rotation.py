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

The receiver trusts nothing about who sent an announcement: the sender is the envelope's
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
from shared.core.errors import ConflictError, PermanentError
from shared.crypto import suites
from shared.domain.canonical import canonical_json_of_data
from shared.exchange.envelopes import MAX_CLOCK_SKEW, EnvelopeError
from shared.federation.keys import _password, local_key_ensure
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
    suite = suites.get_suite(old.suite)
    private = suite.generate_key()
    public = suite.public_key_of(private)
    new = LocalKey.objects.create(
        kid=suite.key_id(public),
        suite=suite.name,
        private_pem=suite.private_key_to_pem(private, _password()).decode(),
        public_pem=suite.public_key_to_pem(public).decode(),
        active=False,
    )
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


# --- receiver side ---------------------------------------------------------------------------


def _refused(code: str, message: str, **detail: Any) -> PermanentError:
    return PermanentError(code, message, detail)


def _parsed_announcement(payload: dict[str, Any], *, sender: str) -> suites.PublicKey:
    """Shape, sender and key of an announcement; the successor's public key."""
    if payload.get("library_code") != sender:
        raise _refused(
            "federation.key_wrong_sender",
            "密钥公告所称的库与发送方不一致",
            sender=sender,
            library_code=str(payload.get("library_code"))[:16],
        )
    try:
        public = suites.public_key_from_pem(str(payload["public_key_pem"]).encode())
        kid = str(payload["kid"])
        not_before = datetime.fromisoformat(str(payload["not_before"]).replace("Z", "+00:00"))
    except (KeyError, ValueError, TypeError) as exc:
        raise _refused("federation.key_malformed", "密钥公告格式不正确") from exc
    if suites.key_id(public) != kid or not_before.tzinfo is None:
        raise _refused("federation.key_malformed", "密钥公告的密钥编号与公钥不符")
    if not_before > timezone.now() + MAX_CLOCK_SKEW:
        raise _refused("federation.key_malformed", "密钥公告的生效时间在未来")
    return public


def _not_known(*, sender: str, purpose: str, kid: str, current_kid: str) -> None:
    """An announcement of a key already seen (current, announced, retired) is a replay."""
    if (
        kid == current_kid
        or PeerKey.objects.filter(peer_code=sender, purpose=purpose, kid=kid).exists()
    ):
        raise _refused(
            "federation.key_replayed", "该密钥已公告或已退役，拒绝重复公告", kid=kid[:64]
        )


def _record_successor(
    payload: dict[str, Any], public: suites.PublicKey, *, sender: str, purpose: str
) -> PeerKey:
    row = PeerKey.objects.create(
        peer_code=sender,
        purpose=purpose,
        kid=str(payload["kid"]),
        suite=suites.suite_for_key(public).name,
        public_pem=str(payload["public_key_pem"]),
        previous_kid=str(payload["old_kid"]),
        state=PeerKey.State.SUCCESSOR,
        not_before=datetime.fromisoformat(str(payload["not_before"]).replace("Z", "+00:00")),
    )
    audit_record(
        actor=None,
        action="peer.key_announce",
        target_type=f"federation.peer_key.{purpose}",
        target_id=f"{sender}:{row.kid}",
        before=None,
        after=model_snapshot(row, exclude=("public_pem",)),
    )
    return row


def apply_key_announce(payload: dict[str, Any], *, sender: str) -> PeerKey:
    """`key.announce`: accept a peer's successor exchange key, only from an envelope signed by
    the key that peer holds now and only when the announcement names that key as the old one."""
    public = _parsed_announcement(payload, sender=sender)
    peer = Peer.objects.select_for_update().filter(code=sender, active=True).first()
    signed_by = ENVELOPE_KID.get()
    if peer is None or payload.get("old_kid") != peer.kid or signed_by != peer.kid:
        raise _refused(
            "federation.key_wrong_old_key",
            "密钥公告必须由发送方当前的交换密钥签名，并指明该密钥为旧密钥",
            old_kid=str(payload.get("old_kid"))[:64],
            signed_by=signed_by[:64],
        )
    _not_known(
        sender=sender,
        purpose=PeerKey.Purpose.EXCHANGE,
        kid=str(payload["kid"]),
        current_kid=peer.kid,
    )
    return _record_successor(payload, public, sender=sender, purpose=PeerKey.Purpose.EXCHANGE)


def apply_key_retire(payload: dict[str, Any], *, sender: str) -> PeerKey:
    """`key.retire`: the announced successor (which signed this envelope) becomes the peer's
    key; the old kid is refused from now on."""
    peer = Peer.objects.select_for_update().filter(code=sender, active=True).first()
    successor = (
        PeerKey.objects.select_for_update()
        .filter(
            peer_code=sender,
            purpose=PeerKey.Purpose.EXCHANGE,
            kid=str(payload.get("successor_kid")),
            state=PeerKey.State.SUCCESSOR,
        )
        .first()
    )
    signed_by = ENVELOPE_KID.get()
    if (
        payload.get("library_code") != sender
        or peer is None
        or successor is None
        or signed_by != successor.kid
        or payload.get("kid") != peer.kid
        or successor.previous_kid != peer.kid
    ):
        raise _refused(
            "federation.key_retire_refused",
            "退役通知必须由已公告的继任密钥签名，并指明发送方当前的密钥",
            kid=str(payload.get("kid"))[:64],
            signed_by=signed_by[:64],
        )
    now = timezone.now()
    before = model_snapshot(peer, exclude=("public_pem", "created_at", "updated_at"))
    PeerKey.objects.update_or_create(
        peer_code=sender,
        purpose=PeerKey.Purpose.EXCHANGE,
        kid=peer.kid,
        defaults={
            "suite": successor.suite,
            "public_pem": peer.public_pem,
            "state": PeerKey.State.RETIRED,
            "retired_at": now,
        },
    )
    peer.kid, peer.public_pem = successor.kid, successor.public_pem
    peer.save(update_fields=["kid", "public_pem", "updated_at"])
    successor.state = PeerKey.State.CURRENT
    successor.save(update_fields=["state"])
    audit_record(
        actor=None,
        action="peer.update",
        target_type="federation.peer",
        target_id=peer.code,
        before=before,
        after=model_snapshot(peer, exclude=("public_pem", "created_at", "updated_at")),
    )
    return successor


def peer_key_lookup(sender: str, kid: str) -> str | None:
    """The PEM of a peer's announced successor exchange key `kid`, usable now; None when it
    is not one. A retired kid raises `exchange.key_retired` (a stable code, not "unknown")."""
    row = PeerKey.objects.filter(
        peer_code=sender, purpose=PeerKey.Purpose.EXCHANGE, kid=kid
    ).first()
    if row is None:
        return None
    if row.state == PeerKey.State.RETIRED:
        raise EnvelopeError("exchange.key_retired", "发送方的该交换密钥已退役，拒绝使用")
    if row.not_before and row.not_before > timezone.now() + MAX_CLOCK_SKEW:
        return None
    return row.public_pem


def log_announce_check(
    payload: dict[str, Any], *, sender: str, current_pem: str | None
) -> suites.PublicKey:
    """The checks of an access-log announcement against the key the hub holds for the node
    (`current_pem`): names its sender, names that key as old, proven by it, not seen before."""
    public = _parsed_announcement(payload, sender=sender)
    if not current_pem:
        raise _refused("federation.key_no_current", "本库尚未见证该节点的访问日志签名密钥")
    current = suites.public_key_from_pem(current_pem.encode())
    current_kid = suites.key_id(current)
    try:
        proof = bytes.fromhex(str(payload.get("proof", "")))
    except ValueError:
        proof = b""
    if payload.get("old_kid") != current_kid or not suites.get_suite("gm").verify(
        current, proof, announcement_statement(payload)
    ):
        raise _refused(
            "federation.key_wrong_old_key",
            "访问日志签名密钥公告必须由该节点当前的签名密钥证明",
            old_kid=str(payload.get("old_kid"))[:64],
        )
    _not_known(
        sender=sender,
        purpose=PeerKey.Purpose.ACCESS_LOG,
        kid=str(payload["kid"]),
        current_kid=current_kid,
    )
    return public


def log_announce_record(
    payload: dict[str, Any], public: suites.PublicKey, *, sender: str
) -> PeerKey:
    return _record_successor(payload, public, sender=sender, purpose=PeerKey.Purpose.ACCESS_LOG)


def log_key_state(*, node_code: str, public_pem: str) -> PeerKey | None:
    """The announcement row of a node's access-log key, by its public key."""
    try:
        kid = suites.key_id(suites.public_key_from_pem(public_pem.encode()))
    except Exception:  # noqa: BLE001 - an unparsable key is no announced key
        return None
    return PeerKey.objects.filter(
        peer_code=node_code, purpose=PeerKey.Purpose.ACCESS_LOG, kid=kid
    ).first()


def log_key_promote(*, successor: PeerKey, old_pem: str) -> None:
    """The first checkpoint the successor signed was witnessed: it is current, the old key
    retired (the stream is ordered: no checkpoint of the old key can legitimately follow)."""
    now = timezone.now()
    old_kid = suites.key_id(suites.public_key_from_pem(old_pem.encode()))
    PeerKey.objects.update_or_create(
        peer_code=successor.peer_code,
        purpose=PeerKey.Purpose.ACCESS_LOG,
        kid=old_kid,
        defaults={
            "suite": "gm",
            "public_pem": old_pem,
            "state": PeerKey.State.RETIRED,
            "retired_at": now,
        },
    )
    PeerKey.objects.filter(
        peer_code=successor.peer_code,
        purpose=PeerKey.Purpose.ACCESS_LOG,
        state=PeerKey.State.SUCCESSOR,
    ).exclude(pk=successor.pk).update(state=PeerKey.State.RETIRED, retired_at=now)
    successor.state = PeerKey.State.CURRENT
    successor.save(update_fields=["state"])
