"""Checkpoints and proofs: a signed (SM2) Merkle root over the leaves 1..n with the chain head,
which the hub witnesses and checks extends the last one; inclusion proofs against them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from shared.access.keys import log_key_id, log_public_key_pem, log_signing_key
from shared.access.log import tree
from shared.access.log.sequence import head_for_update, log_sequence
from shared.access.models import AccessRecord, Checkpoint
from shared.core.errors import ConflictError, NotFoundError
from shared.crypto import merkle
from shared.crypto.suites import get_suite, public_key_from_pem
from shared.domain.canonical import canonical_json


def checkpoint_payload_bytes(
    *, library_code: str, tree_size: int, root_hash: str, head_hash: str, signed_at: datetime
) -> bytes:
    return canonical_json(
        {
            "library_code": library_code,
            "tree_size": tree_size,
            "root_hash": root_hash,
            "head_hash": head_hash,
            "signed_at": signed_at,
        }
    )


def checkpoint_create() -> Checkpoint | None:
    """Sequence what is pending, then sign a checkpoint if the tree grew; None for an empty
    log. Safe to run concurrently and twice: checkpoints are unique per tree size."""
    log_sequence()
    with transaction.atomic():
        head = head_for_update()
        last = Checkpoint.objects.order_by("-tree_size").first()
        if head.seq == 0:
            return None
        if last is not None and last.tree_size >= head.seq:
            return last
        size, frontier = (last.tree_size, list(last.frontier)) if last else (0, [])
        merges: list[merkle.Merge] = []
        frontier = merkle.frontier_extend(
            frontier, size, tree.leaf_hashes(size + 1, head.seq), merges.append
        )
        tree.nodes_store(merges)
        root_hash = merkle.frontier_root(frontier)
        signed_at = timezone.now().replace(microsecond=0)
        payload = checkpoint_payload_bytes(
            library_code=settings.LIBRARY_CODE,
            tree_size=head.seq,
            root_hash=root_hash,
            head_hash=head.record_hash,
            signed_at=signed_at,
        )
        signature = get_suite("gm").sign(log_signing_key(), payload)
        return Checkpoint.objects.create(
            tree_size=head.seq,
            root_hash=root_hash,
            head_hash=head.record_hash,
            frontier=frontier,
            library_code=settings.LIBRARY_CODE,
            signed_at=signed_at,
            key_id=log_key_id(),
            public_key=log_public_key_pem(),
            signature=signature.hex(),
        )


def checkpoint_document(cp: Checkpoint) -> dict[str, Any]:
    return {
        "library_code": cp.library_code,
        "tree_size": cp.tree_size,
        "root_hash": cp.root_hash,
        "head_hash": cp.head_hash,
        "signed_at": cp.signed_at.isoformat(),
        "key_id": cp.key_id,
        "public_key": cp.public_key,
        "signature": cp.signature,
    }


def checkpoint_export(*, from_size: int = 0, checkpoint: Checkpoint | None = None) -> dict:
    """The node-side message for the hub: the latest signed checkpoint and, when the hub has
    witnessed `from_size` before, the RFC 9162 proof that this tree extends that one."""
    cp = checkpoint or checkpoint_create()
    if cp is None:
        raise NotFoundError("access.no_checkpoint", "尚无用证记录检查点")
    document = checkpoint_document(cp)
    if 0 < from_size <= cp.tree_size:
        document["consistency"] = {
            "from_size": from_size,
            "proof": merkle.consistency_proof_of(
                tree.range_hash_for(cp.tree_size), from_size, cp.tree_size
            ),
        }
    return document


def checkpoint_verify_signature(document: dict[str, Any], public_key_pem: str) -> bool:
    try:
        key = public_key_from_pem(public_key_pem.encode())
        payload = checkpoint_payload_bytes(
            library_code=str(document["library_code"]),
            tree_size=int(document["tree_size"]),
            root_hash=str(document["root_hash"]),
            head_hash=str(document["head_hash"]),
            signed_at=datetime.fromisoformat(str(document["signed_at"])),
        )
        return get_suite("gm").verify(key, bytes.fromhex(str(document["signature"])), payload)
    except Exception:  # noqa: BLE001 - anything malformed is simply not a valid signature
        return False


def log_proof(*, seq: int) -> dict[str, Any]:
    """An inclusion proof of record `seq` in the smallest signed checkpoint that covers it."""
    record = AccessRecord.objects.filter(seq=seq).only("seq", "leaf_hash", "record_hash").first()
    if record is None:
        raise NotFoundError("access.record_not_found", "用证记录不存在")
    cp = Checkpoint.objects.filter(tree_size__gte=seq).order_by("tree_size").first()
    if cp is None:
        wait = max(int(settings.ACCESS_CHECKPOINT_SECONDS), 1)
        raise ConflictError(
            "access.proof_pending",
            f"该记录尚未纳入签名检查点（每 {wait} 秒签署一次），请约 {wait} 秒后再试",
            {"seq": seq, "retry_after_seconds": wait},
        )
    proof = merkle.inclusion_proof_of(tree.range_hash_for(cp.tree_size), seq - 1, cp.tree_size)
    return {
        "seq": seq,
        "leaf_index": seq - 1,
        "leaf_hash": record.leaf_hash,
        "record_hash": record.record_hash,
        "audit_path": proof,
        "checkpoint": checkpoint_document(cp),
        "verified": merkle.verify_inclusion(
            record.leaf_hash, seq - 1, cp.tree_size, proof, cp.root_hash
        ),
    }
