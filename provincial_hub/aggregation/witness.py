"""At the hub: witness each node's access-log checkpoints (art. 27).

A node sends its latest signed checkpoint with an RFC 9162 consistency proof from the size the
hub last witnessed. The hub keeps every checkpoint it received and whether it extends the last
consistent one; a node that rewrote its history cannot produce such a proof, so the rewrite is
flagged (`inconsistent`) instead of silently accepted. The checkpoint's key is pinned on first
use per node unless the federation's node-key registry supplies it (`public_key_pem`); it
changes only to a successor the node announced with a proof by the pinned key
(`access.key.announce`, `shared.federation.rotation`): the first checkpoint the successor signs
makes it the node's key and retires the old one. An unannounced or retired key is
`bad_signature`.
"""

from typing import Any

from django.db import transaction

from provincial_hub.aggregation.models import Witness
from shared.access.log import checkpoint_verify_signature
from shared.core.errors import PermanentError
from shared.crypto import merkle
from shared.federation import key_announcements
from shared.federation.models import PeerKey

REQUIRED = ("library_code", "tree_size", "root_hash", "head_hash", "signed_at", "signature")


def _malformed(detail: str) -> PermanentError:
    return PermanentError("witness.malformed", "检查点格式不正确", {"problem": detail})


@transaction.atomic
def checkpoint_witness(
    *, node_code: str, checkpoint: dict[str, Any], public_key_pem: str | None = None
) -> Witness:
    """Record `checkpoint` from `node_code` and judge it against the last consistent one."""
    missing = [k for k in REQUIRED if k not in checkpoint]
    if missing:
        raise _malformed(f"缺少字段 {', '.join(missing)}")
    try:
        tree_size = int(checkpoint["tree_size"])
    except (TypeError, ValueError):
        raise _malformed("tree_size 不是整数") from None
    if str(checkpoint["library_code"]) != node_code or tree_size < 1:
        raise _malformed("节点代码或树大小不符")
    last = (
        Witness.objects.select_for_update()
        .filter(node_code=node_code, status=Witness.Status.CONSISTENT)
        .order_by("-tree_size", "-id")
        .first()
    )
    pinned = public_key_pem or (last.public_key if last else None)
    offered = str(checkpoint.get("public_key", ""))
    successor: PeerKey | None = None
    if pinned and offered and offered.strip() != pinned.strip():
        successor = key_announcements.log_key_state(node_code=node_code, public_pem=offered)
    announced = successor is not None and successor.state == PeerKey.State.SUCCESSOR
    key = offered if announced else (pinned or offered)
    witness = Witness(
        node_code=node_code,
        tree_size=tree_size,
        root_hash=str(checkpoint["root_hash"])[:64],
        head_hash=str(checkpoint["head_hash"])[:64],
        key_id=str(checkpoint.get("key_id", ""))[:32],
        public_key=key,
        signature=str(checkpoint["signature"]),
        previous=last,
        payload=checkpoint,
    )
    status, problem = _judge(
        checkpoint, tree_size, last, key, offered, key if announced else pinned
    )
    if successor is not None and not announced and status == Witness.Status.BAD_SIGNATURE:
        problem = "检查点签名密钥已退役"
    witness.status, witness.problem = status, problem
    witness.save()
    if announced and status == Witness.Status.CONSISTENT and successor and pinned:
        key_announcements.log_key_promote(successor=successor, old_pem=pinned)
    return witness


def log_key_announce_apply(payload: dict[str, Any], *, sender: str) -> PeerKey:
    """`access.key.announce`: a node's successor access-log signing key, accepted only with a
    proof by the key the hub last witnessed for that node (never for another node)."""
    last = (
        Witness.objects.select_for_update()
        .filter(node_code=sender, status=Witness.Status.CONSISTENT)
        .order_by("-tree_size", "-id")
        .first()
    )
    public = key_announcements.log_announce_check(
        payload, sender=sender, current_pem=last.public_key if last else None
    )
    return key_announcements.log_announce_record(payload, public, sender=sender)


def _judge(
    checkpoint: dict[str, Any],
    tree_size: int,
    last: Witness | None,
    key: str,
    offered: str,
    pinned: str | None,
) -> tuple[str, str]:
    if pinned and offered and offered.strip() != pinned.strip():
        return Witness.Status.BAD_SIGNATURE, "检查点签名密钥未经公告，与登记的节点密钥不符"
    if not key or not checkpoint_verify_signature(checkpoint, key):
        return Witness.Status.BAD_SIGNATURE, "检查点签名无效"
    if last is None:
        return Witness.Status.CONSISTENT, ""
    root_hash = str(checkpoint["root_hash"])
    if tree_size < last.tree_size:
        return Witness.Status.INCONSISTENT, f"树大小从 {last.tree_size} 回退到 {tree_size}"
    if tree_size == last.tree_size:
        if root_hash == last.root_hash:
            return Witness.Status.CONSISTENT, ""
        return Witness.Status.INCONSISTENT, "相同树大小的根哈希不同：历史被改写"
    consistency = checkpoint.get("consistency") or {}
    if not isinstance(consistency, dict) or consistency.get("from_size") != last.tree_size:
        return Witness.Status.UNPROVEN, f"缺少从树大小 {last.tree_size} 起的一致性证明"
    proof = consistency.get("proof")
    if not isinstance(proof, list) or not all(isinstance(p, str) for p in proof):
        return Witness.Status.INCONSISTENT, "一致性证明格式不正确"
    try:
        ok = merkle.verify_consistency(last.tree_size, tree_size, last.root_hash, root_hash, proof)
    except ValueError:
        ok = False
    if not ok:
        return Witness.Status.INCONSISTENT, "新检查点不是已见证检查点的延续：历史被改写"
    return Witness.Status.CONSISTENT, ""


def witness_last_size(*, node_code: str) -> int:
    """The tree size the hub last witnessed consistently (the node proves from there)."""
    last = (
        Witness.objects.filter(node_code=node_code, status=Witness.Status.CONSISTENT)
        .order_by("-tree_size")
        .values_list("tree_size", flat=True)
        .first()
    )
    return last or 0
