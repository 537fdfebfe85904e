"""The access log: append, sequence into the hash chain, checkpoint, prove, verify, purge.

Writing and chaining are two steps, as in a Certificate Transparency log's sequencer:

1. `append.log_append` writes the rows of one access (one per licence) with their SM3 leaf
   hash in a single INSERT, committed before the answer leaves, whatever the caller's open
   transaction does next, so a refusal stays recorded.
2. `sequence.log_sequence` gives unsequenced rows, in insertion order, their place in the chain
   under the lock of the single `ChainHead` row, in batches, so appends never queue on a lock.
3. `checkpoints.checkpoint_create` signs (SM2) the Merkle root over the leaves 1..n with the
   chain head: the hub witnesses these and checks that each one extends the last.

`verify` checks the whole log; `purge` archives and removes what is past retention. Callers
use `from shared.access import log` and `log.<name>`: the names below are the public ones.
"""

from shared.access.keys import log_signing_key
from shared.access.log.append import (
    appended_listener_register,
    committed_write,
    log_append,
    log_flush_deferred,
    log_import,
)
from shared.access.log.checkpoints import (
    checkpoint_create,
    checkpoint_document,
    checkpoint_export,
    checkpoint_payload_bytes,
    checkpoint_verify_signature,
    log_proof,
)
from shared.access.log.purge import ARCHIVE_FORMAT, access_purge, archive_verify
from shared.access.log.records import (
    CONTENT_FIELDS,
    LogIntegrityError,
    chain_hash,
    content_leaf_hash,
    genesis_hash,
    record_content,
)
from shared.access.log.sequence import log_sequence, sequenced_listener_register
from shared.access.log.verify import ChainReport, log_verify

__all__ = [
    "ARCHIVE_FORMAT",
    "CONTENT_FIELDS",
    "ChainReport",
    "LogIntegrityError",
    "access_purge",
    "appended_listener_register",
    "archive_verify",
    "chain_hash",
    "checkpoint_create",
    "checkpoint_document",
    "checkpoint_export",
    "checkpoint_payload_bytes",
    "checkpoint_verify_signature",
    "committed_write",
    "content_leaf_hash",
    "genesis_hash",
    "log_append",
    "log_flush_deferred",
    "log_import",
    "log_proof",
    "log_sequence",
    "log_signing_key",
    "log_verify",
    "record_content",
    "sequenced_listener_register",
]
