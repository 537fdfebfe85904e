"""Receiving a peer's key announcements (the other half of `shared.federation.rotation`).

The receiver trusts nothing about who sent an announcement: the sender is the envelope's proven
sender, the announcement must name it, and its old kid must be the key that sender holds here
now — for an exchange key the very key that signed the envelope (`ENVELOPE_KID`), for an
access-log key the one the hub last witnessed, proven by a signature over the statement.
Every refusal is a `PermanentError` with a stable code (the event is dead-lettered, nothing
changes).
"""

from datetime import datetime
from typing import Any

from django.utils import timezone

from shared.audit.services import audit_record
from shared.audit.snapshots import model_snapshot
from shared.core.errors import PermanentError
from shared.crypto import suites
from shared.exchange.envelopes import MAX_CLOCK_SKEW, EnvelopeError
from shared.federation.models import Peer, PeerKey
from shared.federation.rotation import ENVELOPE_KID, announcement_statement


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
