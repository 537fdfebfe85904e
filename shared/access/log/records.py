"""What a record's hashes cover: its content (the leaf) and its link in the chain."""

from __future__ import annotations

from typing import Any

from shared.access.models import AccessRecord
from shared.core.errors import ConflictError
from shared.crypto import merkle
from shared.domain.canonical import canonical_json, sm3_hex

CONTENT_FIELDS = (
    "request_id",
    "library_code",
    "occurred_at",
    "user_ref",
    "username",
    "agency_code",
    "agency_name",
    "operation",
    "outcome",
    "reason_code",
    "matter_code",
    "use_cause",
    "identifier",
    "type_code",
    "issuer_code",
    "source_library",
    "holder_digest",
    "holder_code_type",
    "detail",
)


class LogIntegrityError(ConflictError):
    """The stored log does not hang together (a gap, a broken link): someone tampered."""


def genesis_hash(library_code: str) -> str:
    return sm3_hex(b"elicense-access-log\x00" + library_code.encode())


def record_content(record: AccessRecord) -> dict[str, Any]:
    """What a record's leaf hash covers: every field but the chain fields and the row id."""
    content = {name: getattr(record, name) for name in CONTENT_FIELDS}
    content["request_id"] = str(content["request_id"])
    content["occurred_at"] = record.occurred_at
    # A record imported from another library (the hub's `access.record`) says so, and its hash
    # covers it; our own records' content is what it always was, so old leaves still verify.
    if record.origin_library:
        content["origin_library"] = record.origin_library
        content["origin_id"] = record.origin_id
    return content


def content_leaf_hash(content: dict[str, Any]) -> str:
    return merkle.leaf_hash(canonical_json(content))


def chain_hash(prev_hash: str, leaf: str) -> str:
    return sm3_hex(bytes.fromhex(prev_hash) + bytes.fromhex(leaf))
